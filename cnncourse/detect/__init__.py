"""Object detection from scratch (chapter 8): boxes, IoU, NMS, anchors, box coding, a small
single-shot detector and mean average precision.

Contents (one module per idea, in the chapter's order; every name is importable from here):

- ``boxes`` -- :data:`FORMATS`, :func:`box_convert` and its aliases, :func:`box_area`,
  :func:`box_iou`, :func:`clip_boxes`.
- ``nms`` -- :func:`nms_steps` (greedy NMS one decision at a time, :class:`NMSStep`),
  :func:`nms` (the boxes it keeps), :func:`batched_nms`, :func:`select_detections`.
- ``anchors`` -- :func:`make_anchors`, :func:`ssd_default_boxes`, :func:`match_anchors`,
  :func:`encode_boxes`, :func:`decode_boxes`, :data:`MAX_LOG_SCALE`.
- ``detector`` -- :func:`sigmoid_focal_loss`, :class:`TinyDetector`, :class:`DetectionLoss`,
  :func:`postprocess`.
- ``evaluation`` -- :func:`match_detections`, :func:`precision_recall_curve`,
  :func:`average_precision`, :func:`mean_average_precision`, :data:`COCO_IOU_THRESHOLDS`,
  :data:`COCO_RECALL_THRESHOLDS`.
- ``_inputs`` -- tensor coercion and box checks shared by the modules above.

Drawing boxes on a matplotlib image is :func:`cnncourse.viz.draw_boxes`. (The function
``detect.nms`` shadows the module ``detect/nms.py`` as an attribute of this package; import the
module's other names from here.)

Conventions
-----------
- Boxes are ``(x1, y1, x2, y2)`` ("xyxy", corners) in pixels unless a function says otherwise;
  ``x2, y2`` are edges, so a box's area is ``(x2 - x1) * (y2 - y1)`` (no "+1": the convention of
  torchvision and of current pycocotools). The other formats are ``xywh`` (top-left corner, width,
  height: COCO's json) and ``cxcywh`` (centre, width, height: YOLO's and the box-regression maths).
- Functions accept numpy arrays (or lists) and torch tensors and answer in kind: numpy in,
  numpy out; tensor in, tensor out (keeping autograd where it makes sense). Empty in, empty out.
- Invalid boxes (``x2 < x1`` or ``y2 < y1``, negative widths, NaN/inf) raise ``ValueError``
  naming the argument.

Each from-scratch piece is proven in ``tests/test_detect.py``: ``nms`` against a brute-force
reference on thousands of random box sets, ``mean_average_precision`` against pycocotools.
"""

from .anchors import (
    MAX_LOG_SCALE,
    decode_boxes,
    encode_boxes,
    make_anchors,
    match_anchors,
    ssd_default_boxes,
)
from .boxes import (
    FORMATS,
    box_area,
    box_convert,
    box_iou,
    clip_boxes,
    cxcywh_to_xyxy,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)
from .detector import DetectionLoss, TinyDetector, postprocess, sigmoid_focal_loss
from .evaluation import (
    COCO_IOU_THRESHOLDS,
    COCO_RECALL_THRESHOLDS,
    average_precision,
    match_detections,
    mean_average_precision,
    precision_recall_curve,
)
from .nms import NMSStep, batched_nms, nms, nms_steps, select_detections

__all__ = [
    # boxes
    "FORMATS",
    "box_convert",
    "xyxy_to_xywh",
    "xywh_to_xyxy",
    "xyxy_to_cxcywh",
    "cxcywh_to_xyxy",
    "box_area",
    "box_iou",
    "clip_boxes",
    # nms
    "NMSStep",
    "nms_steps",
    "nms",
    "batched_nms",
    "select_detections",
    # anchors
    "MAX_LOG_SCALE",
    "make_anchors",
    "ssd_default_boxes",
    "match_anchors",
    "encode_boxes",
    "decode_boxes",
    # detector
    "sigmoid_focal_loss",
    "TinyDetector",
    "DetectionLoss",
    "postprocess",
    # evaluation
    "COCO_IOU_THRESHOLDS",
    "COCO_RECALL_THRESHOLDS",
    "match_detections",
    "precision_recall_curve",
    "average_precision",
    "mean_average_precision",
]
