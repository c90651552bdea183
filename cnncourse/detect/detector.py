"""The detector (chapter 8, sections 7-8): focal loss, a tiny single-shot detector, its loss and
its post-processing.

- :func:`sigmoid_focal_loss` -- RetinaNet's loss for the class logits.
- :class:`TinyDetector` -- backbone, one feature level, a class head and a box head.
- :class:`DetectionLoss` -- anchor matching, focal loss and smooth-L1 box loss.
- :func:`postprocess` -- raw outputs to detections (decode, clip, :func:`select_detections`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import nn

from .._validate import (
    check_choice,
    check_int,
    check_pair,
    check_positive_float,
    check_positive_floats,
    check_unit_interval,
)
from ._inputs import _boxes
from .anchors import _weights, decode_boxes, encode_boxes, make_anchors, match_anchors
from .boxes import clip_boxes
from .nms import select_detections


def sigmoid_focal_loss(
    logits, targets, alpha: float | None = 0.25, gamma: float = 2.0, reduction: str = "sum"
) -> torch.Tensor:
    """Focal loss (Lin et al., 2017): cross-entropy that down-weights easy examples.

    .. math:: \\mathrm{FL}(p_t) = -\\alpha_t (1 - p_t)^\\gamma \\log p_t

    with ``p_t = p`` for a target 1 and ``1 - p`` for a target 0, ``p = sigmoid(logit)``,
    ``alpha_t = alpha`` or ``1 - alpha``. ``gamma = 0, alpha = None`` is binary cross-entropy.

    Parameters
    ----------
    logits, targets : Tensor, same shape (targets in [0, 1])
    alpha : float in [0, 1] or None (no class weighting)
    gamma : float >= 0
    reduction : {'none', 'mean', 'sum'}

    Returns
    -------
    Tensor: the loss (shape of ``logits`` for ``'none'``, else a scalar).
    """
    check_choice("reduction", reduction, ("none", "mean", "sum"))
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError("logits and targets must be torch tensors")
    if logits.shape != targets.shape:
        raise ValueError(
            f"targets must have the shape of logits {tuple(logits.shape)}, got {tuple(targets.shape)}"
        )
    if alpha is not None:
        alpha = check_unit_interval("alpha", alpha)
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or gamma < 0:
        raise ValueError(f"gamma must be a number >= 0, got {gamma!r}")
    targets = targets.to(logits.dtype)
    p = torch.sigmoid(logits)
    ce = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _conv_block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class TinyDetector(nn.Module):
    """A small single-shot detector: a CNN backbone, one feature level, two conv heads.

    The backbone halves the resolution ``log2(stride)`` times; on its final feature map, every
    cell has ``A = len(sizes) * len(ratios)`` anchors (:func:`make_anchors`), and two 3x3
    convolutions predict, for every anchor, ``num_classes`` logits (sigmoid per class, trained
    with focal loss as in RetinaNet: no background class) and 4 box deltas
    (:func:`encode_boxes`). It is SSD/RetinaNet with a single scale, sized for 64x64 canvases.

    Parameters
    ----------
    num_classes : int
    in_channels : int
    width : int
        Channels after the first downsampling (doubled once, then kept).
    stride : int, a power of two >= 4
    sizes, ratios : anchors per cell (see :func:`make_anchors`)
    weights : 4 floats, the box-coding weights (see :func:`encode_boxes`)

    Shapes: ``forward`` maps images (N, in_channels, H, W) to one tensor (N, K, num_classes + 4)
    with ``K = (H / stride) (W / stride) A`` rows in :meth:`anchors` order: per anchor, the class
    logits then the box deltas (one tensor, like YOLO's output, so the generic training loop can
    handle it; :meth:`split` separates the two).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        width: int = 32,
        stride: int = 8,
        sizes: Sequence[float] = (12.0, 20.0),
        ratios: Sequence[float] = (1.0, 2.0, 4.0),
        weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    ):
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes, minimum=1)
        in_channels = check_int("in_channels", in_channels, minimum=1)
        width = check_int("width", width, minimum=2)
        stride = check_int("stride", stride, minimum=4)
        if stride & (stride - 1):
            raise ValueError(f"stride must be a power of two >= 4, got {stride}")
        self.stride = stride
        self.sizes = check_positive_floats("sizes", sizes)
        self.ratios = check_positive_floats("ratios", ratios)
        self.weights = _weights(weights)
        self.num_anchors = len(self.sizes) * len(self.ratios)
        layers = [_conv_block(in_channels, width // 2)]
        c = width // 2
        for i in range(int(math.log2(stride))):
            c_out = width if i == 0 else 2 * width
            layers += [_conv_block(c, c_out, stride=2), _conv_block(c_out, c_out)]
            c = c_out
        self.backbone = nn.Sequential(*layers)
        self.cls_head = nn.Conv2d(c, self.num_anchors * num_classes, 3, padding=1)
        self.box_head = nn.Conv2d(c, self.num_anchors * 4, 3, padding=1)
        # Start every anchor at p = 0.01 (RetinaNet): almost all anchors are background, and a
        # start at p = 0.5 would drown the first steps in the loss of easy negatives.
        nn.init.constant_(self.cls_head.bias, -math.log((1 - 0.01) / 0.01))
        nn.init.normal_(self.cls_head.weight, std=0.01)
        nn.init.normal_(self.box_head.weight, std=0.01)
        nn.init.zeros_(self.box_head.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n = images.shape[0]
        features = self.backbone(images)
        # (N, A*C, h, w) -> (N, h, w, A*C) -> (N, h*w*A, C): cell by cell, then anchor
        cls = self.cls_head(features).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes)
        box = self.box_head(features).permute(0, 2, 3, 1).reshape(n, -1, 4)
        return torch.cat([cls, box], dim=-1)

    def split(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cls_logits (N, K, C), box_deltas (N, K, 4))`` from the forward output."""
        return outputs[..., : self.num_classes], outputs[..., self.num_classes :]

    def anchors(self, image_size) -> torch.Tensor:
        """Anchors (K, 4) for images of ``image_size = (H, W)`` (each divisible by the stride)."""
        height, width = check_pair("image_size", image_size, minimum=1)
        if height % self.stride or width % self.stride:
            raise ValueError(
                f"image_size must be divisible by the stride {self.stride}, got {image_size!r}"
            )
        feature = (height // self.stride, width // self.stride)
        return make_anchors(feature, self.stride, self.sizes, self.ratios)

    def loss_fn(self, image_size, **kwargs) -> DetectionLoss:
        """The :class:`DetectionLoss` for this model's anchors on images of ``image_size``."""
        return DetectionLoss(self.anchors(image_size), self.num_classes, self.weights, **kwargs)

    @torch.no_grad()
    def predict(
        self,
        images: torch.Tensor,
        score_threshold: float = 0.05,
        iou_threshold: float = 0.5,
        max_detections: int = 100,
        batch_size: int = 256,
    ) -> list[dict]:
        """Detections for images (N, C, H, W), in eval mode: see :func:`postprocess`.

        Returns a list of N dicts with CPU tensors ``'boxes'`` (D, 4) xyxy, ``'scores'`` (D,)
        and ``'labels'`` (D,), best score first.
        """
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        size = tuple(images.shape[-2:])
        anchors = self.anchors(size).to(device)
        results = []
        try:
            for i in range(0, len(images), batch_size):
                outputs = self(images[i : i + batch_size].to(device)).float().cpu()
                results += postprocess(
                    outputs,
                    anchors.cpu(),
                    size,
                    self.num_classes,
                    self.weights,
                    score_threshold,
                    iou_threshold,
                    max_detections,
                )
        finally:
            self.train(was_training)
        return results


def _target_list(targets) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(boxes, labels) per image from padded targets (N, G, 5) or a list of dicts."""
    if isinstance(targets, torch.Tensor):
        if targets.ndim != 3 or targets.shape[-1] != 5:
            raise ValueError(
                "targets must be a list of dicts or a tensor (N, G, 5) of rows (x1, y1, x2, y2, "
                f"label) padded with label -1, got shape {tuple(targets.shape)}"
            )
        return [(t[t[:, 4] >= 0, :4], t[t[:, 4] >= 0, 4].long()) for t in targets]
    return [(torch.as_tensor(t["boxes"]), torch.as_tensor(t["labels"]).long()) for t in targets]


class DetectionLoss(nn.Module):
    """Focal classification loss + smooth-L1 box loss for :class:`TinyDetector` outputs.

    For each image, anchors are matched to its ground truth (:func:`match_anchors`). Positive
    anchors get a one-hot class target and a box target (:func:`encode_boxes`); background
    anchors get all-zero class targets; ignored anchors get no loss. Both sums are divided by the
    number of positive anchors in the batch (RetinaNet), so the loss does not grow with the
    number of anchors.

    Parameters
    ----------
    anchors : Tensor (K, 4)
        From :meth:`TinyDetector.anchors`.
    num_classes : int
    weights : box-coding weights (as the model's)
    pos_iou, neg_iou : matching thresholds (see :func:`match_anchors`)
    alpha, gamma : focal-loss parameters (see :func:`sigmoid_focal_loss`)
    beta : float > 0
        Smooth-L1 is quadratic below ``|x| = beta`` and linear above (beta = 1: Huber, delta 1).

    Call it with ``(outputs, targets)``: outputs (N, K, C + 4) from the model; targets either
    (N, G, 5) rows ``(x1, y1, x2, y2, label)`` padded with label -1
    (:func:`cnncourse.canvases.collate_detection`) or a list of dicts with ``'boxes'`` and
    ``'labels'``. Returns the total loss; ``.last`` holds its two parts as floats.
    """

    def __init__(
        self,
        anchors: torch.Tensor,
        num_classes: int,
        weights=(1.0, 1.0, 1.0, 1.0),
        pos_iou: float = 0.5,
        neg_iou: float = 0.4,
        alpha: float = 0.25,
        gamma: float = 2.0,
        beta: float = 1.0 / 9,
    ):
        super().__init__()
        a, _ = _boxes("anchors", anchors, ndim=2)
        self.register_buffer("anchors", a.to(torch.float32))
        self.num_classes = check_int("num_classes", num_classes, minimum=1)
        self.weights = _weights(weights)
        self.pos_iou = check_unit_interval("pos_iou", pos_iou)
        self.neg_iou = check_unit_interval("neg_iou", neg_iou)
        self.alpha, self.gamma = alpha, gamma
        self.beta = check_positive_float("beta", beta)
        self.last: dict[str, float] = {}

    def targets_for(self, boxes: torch.Tensor, labels: torch.Tensor):
        """Class targets (K, C), box targets (K, 4) and anchor matches (K,) for one image."""
        anchors = self.anchors
        boxes = boxes.to(anchors)
        matches = match_anchors(anchors, boxes, self.pos_iou, self.neg_iou)
        pos = matches >= 0
        cls_t = torch.zeros(len(anchors), self.num_classes, device=anchors.device)
        cls_t[pos, labels.to(anchors.device)[matches[pos]]] = 1.0
        box_t = torch.zeros(len(anchors), 4, device=anchors.device)
        if pos.any():
            box_t[pos] = encode_boxes(boxes[matches[pos]], anchors[pos], self.weights)
        return cls_t, box_t, matches

    def forward(self, outputs: torch.Tensor, targets) -> torch.Tensor:
        if outputs.ndim != 3 or outputs.shape[1:] != (len(self.anchors), self.num_classes + 4):
            raise ValueError(
                f"outputs must have shape (N, {len(self.anchors)}, {self.num_classes + 4}) for "
                f"this loss's anchors, got {tuple(outputs.shape)}; build the loss with "
                "model.loss_fn(image_size)"
            )
        targets = _target_list(targets)
        if len(targets) != len(outputs):
            raise ValueError(f"targets must describe {len(outputs)} images, got {len(targets)}")
        cls_logits, box_deltas = outputs[..., : self.num_classes], outputs[..., self.num_classes :]
        cls_t, box_t, matches = map(
            torch.stack, zip(*(self.targets_for(b, lab) for b, lab in targets), strict=True)
        )
        pos, valid = matches >= 0, matches != -2
        num_pos = max(1, int(pos.sum()))
        cls_loss = sigmoid_focal_loss(
            cls_logits[valid], cls_t[valid].to(outputs), self.alpha, self.gamma
        )
        box_loss = nn.functional.smooth_l1_loss(
            box_deltas[pos], box_t[pos].to(outputs), beta=self.beta, reduction="sum"
        )
        cls_loss, box_loss = cls_loss / num_pos, box_loss / num_pos
        self.last = {"classification": cls_loss.item(), "box": box_loss.item()}
        return cls_loss + box_loss


def postprocess(
    outputs: torch.Tensor,
    anchors: torch.Tensor,
    image_size,
    num_classes: int,
    weights=(1.0, 1.0, 1.0, 1.0),
    score_threshold: float = 0.05,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> list[dict]:
    """Turn raw detector outputs into detections, image by image.

    Scores are ``sigmoid(logits)``; each (anchor, class) pair above ``score_threshold`` is a
    candidate with the anchor's decoded box (:func:`decode_boxes`, clipped to the image); then
    per-class NMS and the best ``max_detections`` (:func:`select_detections`).

    Parameters
    ----------
    outputs : Tensor (N, K, num_classes + 4)
    anchors : Tensor (K, 4)
    image_size : (H, W)
    num_classes : int

    Returns
    -------
    list of N dicts with Tensors ``'boxes'`` (D, 4), ``'scores'`` (D,), ``'labels'`` (D,).
    """
    num_classes = check_int("num_classes", num_classes, minimum=1)
    outputs = outputs.detach()
    scores = torch.sigmoid(outputs[..., :num_classes])
    boxes = clip_boxes(decode_boxes(outputs[..., num_classes:], anchors, weights), image_size)
    score_threshold = check_unit_interval("score_threshold", score_threshold)
    results = []
    for s, b in zip(scores, boxes, strict=True):
        anchor, label = torch.nonzero(s > score_threshold, as_tuple=True)  # the candidates
        det = select_detections(
            b[anchor], s[anchor, label], label, score_threshold, iou_threshold, max_detections
        )
        det.pop("index")
        results.append(det)
    return results
