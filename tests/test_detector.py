"""Tests for cnncourse.detect.detector: focal loss, TinyDetector, DetectionLoss, postprocess.

References: the focal-loss formula written out in float64, torch autograd (gradcheck), layer
lists written by hand, an explicit loop over cells and anchors, hand-made anchor matches, a
from-scratch box decoder and smooth-L1, and boxes placed so that NMS and the defaults of
``postprocess`` decide visibly.
"""

import math

import numpy as np
import pytest
import torch
from torch import nn

from cnncourse import detect
from cnncourse.detect.detector import _target_list

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # many tiny torch ops

# --------------------------------------------------------------------------- helpers


def focal_reference(logits, targets, alpha, gamma):
    """-alpha_t (1 - p_t)^gamma log p_t per element, in float64 (the paper's formula; soft
    targets mix the two log terms as binary cross-entropy does)."""
    x, t = logits.double(), targets.double()
    p = torch.sigmoid(x)
    ce = -(t * nn.functional.logsigmoid(x) + (1 - t) * nn.functional.logsigmoid(-x))
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = loss * (alpha * t + (1 - alpha) * (1 - t))
    return loss


def smooth_l1_reference(x, beta):
    x = x.double().abs()
    return torch.where(x < beta, 0.5 * x**2 / beta, x - 0.5 * beta)


def decode_reference(deltas, anchors, weights):
    """Faster R-CNN decoding written out in float64 (no clamp needed for small deltas)."""
    d, a = deltas.double(), anchors.double()
    wx, wy, ww, wh = weights
    aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    ax, ay = a[:, 0] + aw / 2, a[:, 1] + ah / 2
    x, y = ax + aw * d[:, 0] / wx, ay + ah * d[:, 1] / wy
    w, h = aw * torch.exp(d[:, 2] / ww), ah * torch.exp(d[:, 3] / wh)
    return torch.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], dim=1)


def logit(p):
    return math.log(p / (1 - p))


def assert_message(call, error, message):
    with pytest.raises(error) as err:
        call()
    assert str(err.value) == message


# --------------------------------------------------------------------------- focal loss


@pytest.mark.parametrize("alpha", [None, 0.0, 0.25, 0.7, 1.0])
@pytest.mark.parametrize("gamma", [0, 0.5, 2.0, 3])
def test_focal_loss_equals_the_formula(alpha, gamma):
    torch.manual_seed(0)
    logits = 3 * torch.randn(4, 6)
    hard = (torch.rand(4, 6) > 0.5).float()
    soft = torch.rand(4, 6)  # targets in [0, 1] (label smoothing)
    for targets in (hard, soft):
        expected = focal_reference(logits, targets, alpha, gamma)
        loss = detect.sigmoid_focal_loss(logits, targets, alpha, gamma, reduction="none")
        assert loss.shape == (4, 6) and loss.dtype == torch.float32
        torch.testing.assert_close(loss.double(), expected, rtol=1e-5, atol=1e-7)
        mean = detect.sigmoid_focal_loss(logits, targets, alpha, gamma, reduction="mean")
        total = detect.sigmoid_focal_loss(logits, targets, alpha, gamma, reduction="sum")
        assert mean.shape == () and total.shape == ()
        torch.testing.assert_close(mean.double(), expected.mean(), rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(total.double(), expected.sum(), rtol=1e-5, atol=1e-7)


def test_focal_loss_is_bce_without_focusing_and_matches_hand_values():
    torch.manual_seed(0)
    logits, targets = torch.randn(50), (torch.rand(50) > 0.5).float()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    fl = detect.sigmoid_focal_loss(logits, targets, alpha=None, gamma=0.0, reduction="mean")
    torch.testing.assert_close(fl, bce)
    # p = 0.9 for both: target 1 gives p_t = 0.9, target 0 gives p_t = 0.1
    two = torch.full((2,), logit(0.9))
    fl = detect.sigmoid_focal_loss(two, torch.tensor([1.0, 0.0]), 0.25, 2.0, reduction="none")
    assert fl[0].item() == pytest.approx(0.25 * 0.1**2 * -math.log(0.9), rel=1e-5)
    assert fl[1].item() == pytest.approx(0.75 * 0.9**2 * -math.log(0.1), rel=1e-5)


def test_focal_loss_defaults_are_alpha_quarter_gamma_two_and_a_sum():
    torch.manual_seed(1)
    logits, targets = torch.randn(3, 5), (torch.rand(3, 5) > 0.5).float()
    default = detect.sigmoid_focal_loss(logits, targets)
    assert default.shape == ()
    torch.testing.assert_close(
        default, detect.sigmoid_focal_loss(logits, targets, 0.25, 2.0, "sum")
    )
    torch.testing.assert_close(default.double(), focal_reference(logits, targets, 0.25, 2.0).sum())
    for other in ({"alpha": 0.3}, {"gamma": 3.0}, {"reduction": "mean"}):
        assert not torch.allclose(default, detect.sigmoid_focal_loss(logits, targets, **other))


def test_focal_loss_gradient_and_integer_targets():
    x = torch.randn(6, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 1, 0, 1, 0], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: detect.sigmoid_focal_loss(z, y, 0.3, 1.5), (x,))
    # integer or boolean targets are read as 0.0 / 1.0 in the logits' dtype
    logits = torch.randn(6)
    expected = detect.sigmoid_focal_loss(logits, y.float(), reduction="none")
    for targets in (y.long(), y.bool()):
        got = detect.sigmoid_focal_loss(logits, targets, reduction="none")
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, expected)


_L, _T = torch.zeros(2, 3), torch.zeros(2, 3)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"reduction": "max"},
            ValueError,
            "reduction must be one of 'none', 'mean', 'sum'; got 'max'",
        ),
        ({"logits": [0.0]}, TypeError, "logits and targets must be torch tensors"),
        ({"targets": [0.0, 0.0, 0.0]}, TypeError, "logits and targets must be torch tensors"),
        (
            {"targets": torch.zeros(3)},
            ValueError,
            "targets must have the shape of logits (2, 3), got (3,)",
        ),
        ({"alpha": 1.5}, ValueError, "alpha must be in [0, 1], got 1.5"),
        ({"alpha": "a"}, TypeError, "alpha must be a real number, got 'a' (str)"),
        ({"gamma": -1}, ValueError, "gamma must be a number >= 0, got -1"),
        ({"gamma": -0.5}, ValueError, "gamma must be a number >= 0, got -0.5"),
        ({"gamma": True}, ValueError, "gamma must be a number >= 0, got True"),
        ({"gamma": "2"}, ValueError, "gamma must be a number >= 0, got '2'"),
    ],
)
def test_focal_loss_messages_are_exact(kwargs, error, message):
    args = {"logits": _L, "targets": _T} | kwargs
    assert_message(lambda: detect.sigmoid_focal_loss(**args), error, message)


def test_focal_loss_accepts_its_boundaries():
    logits, targets = torch.randn(4), torch.tensor([0.0, 1.0, 1.0, 0.0])
    for reduction in ("none", "mean", "sum"):
        for alpha in (None, 0, 1):
            for gamma in (0, 0.5):
                got = detect.sigmoid_focal_loss(logits, targets, alpha, gamma, reduction)
                assert torch.isfinite(got).all()


# --------------------------------------------------------------------------- TinyDetector


def _layer_specs(model):
    """(kind, in, out, kernel, stride, padding, has bias) of every conv, in order, and checks
    that every backbone block is conv -> batch norm (of the conv's channels) -> ReLU."""
    specs = []
    for block in model.backbone:
        conv, bn, relu = block  # exactly three layers
        assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
        assert isinstance(relu, nn.ReLU) and bn.num_features == conv.out_channels
        specs.append(("block", conv.in_channels, conv.out_channels, conv.kernel_size,
                      conv.stride, conv.padding, conv.bias is not None))  # fmt: skip
    for name in ("cls_head", "box_head"):
        c = getattr(model, name)
        specs.append((name, c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding,
                      c.bias is not None))  # fmt: skip
    return specs


def _block(c_in, c_out, stride):
    return ("block", c_in, c_out, (3, 3), (stride, stride), (1, 1), False)


def _head(name, c_in, c_out):
    return (name, c_in, c_out, (3, 3), (1, 1), (1, 1), True)


def test_tiny_detector_layers_by_hand():
    # width 8, stride 16: 4 halvings; channels width/2, then width, then 2 * width
    model = detect.TinyDetector(
        num_classes=3, in_channels=3, width=8, stride=16, sizes=(10.0,), ratios=(1.0, 2.0)
    )
    assert model.num_anchors == 2 and type(model.num_anchors) is int
    assert _layer_specs(model) == [
        _block(3, 4, 1),
        _block(4, 8, 2),
        _block(8, 8, 1),
        _block(8, 16, 2),
        _block(16, 16, 1),
        _block(16, 16, 2),
        _block(16, 16, 1),
        _block(16, 16, 2),
        _block(16, 16, 1),
        _head("cls_head", 16, 2 * 3),
        _head("box_head", 16, 2 * 4),
    ]
    # an odd width (width // 2 rounds down), stride 4, the minimum of everything
    model = detect.TinyDetector(num_classes=1, in_channels=1, width=5, stride=4, sizes=4, ratios=1)
    assert model.num_anchors == 1
    assert _layer_specs(model) == [
        _block(1, 2, 1),
        _block(2, 5, 2),
        _block(5, 5, 1),
        _block(5, 10, 2),
        _block(10, 10, 1),
        _head("cls_head", 10, 1),
        _head("box_head", 10, 4),
    ]
    assert model(torch.zeros(1, 1, 8, 8)).shape == (1, 2 * 2 * 1, 1 + 4)
    model = detect.TinyDetector(num_classes=1, in_channels=1, width=2, stride=32)
    assert model(torch.zeros(2, 1, 64, 32)).shape == (2, 2 * 1 * 6, 5)


def test_tiny_detector_defaults():
    torch.manual_seed(0)
    model = detect.TinyDetector()
    explicit = detect.TinyDetector(
        num_classes=10,
        in_channels=1,
        width=32,
        stride=8,
        sizes=(12.0, 20.0),
        ratios=(1.0, 2.0, 4.0),
        weights=(1.0, 1.0, 1.0, 1.0),
    )
    assert (model.num_classes, model.stride, model.num_anchors) == (10, 8, 6)
    assert model.sizes == (12.0, 20.0) and model.ratios == (1.0, 2.0, 4.0)
    assert model.weights == (1.0, 1.0, 1.0, 1.0)
    assert _layer_specs(model) == _layer_specs(explicit)
    assert _layer_specs(model)[0] == _block(1, 16, 1) and _layer_specs(model)[-1][2] == 24


def test_tiny_detector_starts_at_the_retinanet_prior():
    torch.manual_seed(0)
    model = detect.TinyDetector()  # width 32: heads with 13,824 and 34,560 weights
    prior = -math.log((1 - 0.01) / 0.01)
    torch.testing.assert_close(model.cls_head.bias, torch.full((60,), prior))
    assert torch.equal(model.box_head.bias, torch.zeros(24))
    for head in (model.cls_head, model.box_head):
        # N(0, 0.01^2): the sample std of >10^4 draws is within 2% (about 4 standard errors)
        assert float(head.weight.detach().std()) == pytest.approx(0.01, rel=0.05)
        assert abs(float(head.weight.detach().mean())) < 0.001
    images = torch.rand(2, 1, 32, 48)
    cls, _ = model.split(model(images))
    # untrained: every probability starts near the prior 0.01
    assert torch.sigmoid(cls).mean().item() == pytest.approx(0.01, abs=0.005)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"num_classes": 0}, ValueError, "num_classes must be >= 1, got 0"),
        ({"num_classes": 2.0}, TypeError, "num_classes must be an integer, got 2.0 (float)"),
        ({"in_channels": 0}, ValueError, "in_channels must be >= 1, got 0"),
        ({"in_channels": "1"}, TypeError, "in_channels must be an integer, got '1' (str)"),
        ({"width": 1}, ValueError, "width must be >= 2, got 1"),
        ({"width": 8.0}, TypeError, "width must be an integer, got 8.0 (float)"),
        ({"stride": 2}, ValueError, "stride must be >= 4, got 2"),
        ({"stride": 8.0}, TypeError, "stride must be an integer, got 8.0 (float)"),
        ({"stride": 12}, ValueError, "stride must be a power of two >= 4, got 12"),
        ({"stride": 6}, ValueError, "stride must be a power of two >= 4, got 6"),
        ({"stride": 9}, ValueError, "stride must be a power of two >= 4, got 9"),
        ({"sizes": ()}, ValueError, "sizes must be a non-empty sequence of numbers > 0, got ()"),
        ({"sizes": (12.0, 0)}, ValueError, "sizes[1] must be a finite number > 0, got 0.0"),
        ({"ratios": []}, ValueError, "ratios must be a non-empty sequence of numbers > 0, got ()"),
        ({"ratios": (1, -2)}, ValueError, "ratios[1] must be a finite number > 0, got -2.0"),
        ({"weights": (1, 1, 1)}, ValueError, "weights must be 4 numbers (wx, wy, ww, wh), got (1, 1, 1)"),
        ({"weights": (1, 1, 1, 0)}, ValueError, "weights[3] must be a finite number > 0, got 0.0"),
    ],
)  # fmt: skip
def test_tiny_detector_messages_are_exact(kwargs, error, message):
    assert_message(lambda: detect.TinyDetector(**({"width": 4} | kwargs)), error, message)


def test_forward_lays_out_cells_then_anchors_then_logits_and_deltas():
    torch.manual_seed(0)
    ratios = (0.5, 1.0, 2.0)
    model = detect.TinyDetector(num_classes=3, width=8, sizes=(10.0,), ratios=ratios).eval()
    for head in (model.cls_head, model.box_head):  # distinct, O(1) outputs
        nn.init.normal_(head.weight)
        nn.init.normal_(head.bias)
    images = torch.rand(2, 1, 16, 24)  # a 2 x 3 feature map, 3 anchors per cell
    with torch.no_grad():
        out = model(images)
        features = model.backbone(images)
        cls_map, box_map = model.cls_head(features), model.box_head(features)
    assert cls_map.shape == (2, 9, 2, 3) and box_map.shape == (2, 12, 2, 3)
    expected = torch.zeros(2, 18, 7)
    anchors = model.anchors((16, 24))
    for n in range(2):
        for i in range(2):
            for j in range(3):
                for a in range(3):
                    row = (i * 3 + j) * 3 + a
                    expected[n, row, :3] = cls_map[n, a * 3 : a * 3 + 3, i, j]
                    expected[n, row, 3:] = box_map[n, a * 4 : a * 4 + 4, i, j]
                    x1, y1, x2, y2 = anchors[row].tolist()  # the row's anchor: this cell's
                    assert ((x1 + x2) / 2, (y1 + y2) / 2) == ((j + 0.5) * 8, (i + 0.5) * 8)
                    assert (y2 - y1) / (x2 - x1) == pytest.approx(ratios[a])
    assert out.shape == (2, 18, 7)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    cls, box = model.split(out)
    torch.testing.assert_close(cls, expected[..., :3], rtol=0, atol=0)
    torch.testing.assert_close(box, expected[..., 3:], rtol=0, atol=0)


def test_anchors_are_make_anchors_on_the_feature_map():
    model = detect.TinyDetector(num_classes=2, width=4, stride=8, sizes=(6.0, 9.0), ratios=(0.5,))
    torch.testing.assert_close(
        model.anchors((16, 24)), detect.make_anchors((2, 3), 8, (6.0, 9.0), (0.5,))
    )
    torch.testing.assert_close(model.anchors(16), detect.make_anchors(2, 8, (6.0, 9.0), (0.5,)))
    assert model.anchors([8, 8]).shape == (2, 4)


@pytest.mark.parametrize(
    "size, error, message",
    [
        ((30, 48), ValueError, "image_size must be divisible by the stride 8, got (30, 48)"),
        ((32, 50), ValueError, "image_size must be divisible by the stride 8, got (32, 50)"),
        (20, ValueError, "image_size must be divisible by the stride 8, got 20"),
        ((1, 8), ValueError, "image_size must be divisible by the stride 8, got (1, 8)"),
        ((0, 8), ValueError, "image_size[0] must be >= 1, got 0"),
        ((8, -8), ValueError, "image_size[1] must be >= 1, got -8"),
        (8.0, TypeError, "image_size must be an integer, got 8.0 (float)"),
        ((8, 8, 8), ValueError, "image_size must be an int or a pair of ints, got (8, 8, 8)"),
    ],
)
def test_anchors_messages_are_exact(size, error, message):
    model = detect.TinyDetector(num_classes=2, width=4)
    assert_message(lambda: model.anchors(size), error, message)


def test_loss_fn_carries_the_models_anchors_weights_and_options():
    torch.manual_seed(0)
    weights = (2.0, 3.0, 4.0, 5.0)
    model = detect.TinyDetector(
        num_classes=4, width=4, sizes=(10.0,), ratios=(1.0,), weights=weights
    )
    options = {"pos_iou": 0.6, "neg_iou": 0.3, "alpha": 0.5, "gamma": 1.0, "beta": 0.2}
    loss_fn = model.loss_fn((16, 24), **options)
    torch.testing.assert_close(loss_fn.anchors, model.anchors((16, 24)))
    assert (loss_fn.num_classes, loss_fn.weights) == (4, weights)
    assert (loss_fn.pos_iou, loss_fn.neg_iou, loss_fn.alpha, loss_fn.gamma, loss_fn.beta) == (
        0.6, 0.3, 0.5, 1.0, 0.2,
    )  # fmt: skip
    reference = detect.DetectionLoss(model.anchors((16, 24)), 4, weights, 0.6, 0.3, 0.5, 1.0, 0.2)
    outputs = torch.randn(1, 6, 8)
    targets = [{"boxes": torch.tensor([[1.0, 2.0, 12.0, 11.0]]), "labels": torch.tensor([2])}]
    torch.testing.assert_close(loss_fn(outputs, targets), reference(outputs, targets))
    plain = detect.DetectionLoss(model.anchors((16, 24)), 4)
    assert not torch.allclose(loss_fn(outputs, targets), plain(outputs, targets))


def test_predict_is_postprocess_of_the_eval_mode_outputs_in_batches():
    torch.manual_seed(0)
    weights = (2.0, 2.0, 1.0, 1.0)
    model = detect.TinyDetector(
        num_classes=2, width=4, sizes=(8.0,), ratios=(1.0,), weights=weights
    )
    nn.init.zeros_(model.cls_head.bias)  # scores near 0.5: many candidates
    nn.init.normal_(model.box_head.weight, std=0.3)
    images = torch.rand(3, 1, 16, 16)
    preds = model.predict(
        images, score_threshold=0.3, iou_threshold=0.4, max_detections=3, batch_size=2
    )
    assert model.training  # the mode is restored
    with torch.no_grad():
        outputs = model.eval()(images)
    expected = detect.postprocess(outputs, model.anchors(16), (16, 16), 2, weights, 0.3, 0.4, 3)
    assert len(preds) == 3
    for got, want in zip(preds, expected, strict=True):
        assert set(got) == {"boxes", "scores", "labels"} and len(got["boxes"]) == 3
        for key in got:
            torch.testing.assert_close(got[key], want[key])
    assert not model.predict(images[:1])[0]["boxes"].requires_grad and not model.training


# --------------------------------------------------------------------------- targets


def test_target_list_keeps_label_zero_and_drops_the_padding():
    pad = [0.0, 0.0, 0.0, 0.0, -1.0]
    padded = torch.tensor(
        [
            [[1.0, 2.0, 5.0, 6.0, 0.0], pad, [3.0, 3.0, 9.0, 8.0, 2.0]],
            [pad, [0.0, 1.0, 4.0, 4.0, 1.0], pad],
        ]
    )
    (b0, l0), (b1, l1) = _target_list(padded)
    assert torch.equal(b0, torch.tensor([[1.0, 2.0, 5.0, 6.0], [3.0, 3.0, 9.0, 8.0]]))
    assert torch.equal(l0, torch.tensor([0, 2])) and l0.dtype == torch.int64
    assert torch.equal(b1, torch.tensor([[0.0, 1.0, 4.0, 4.0]])) and torch.equal(
        l1, torch.tensor([1])
    )
    (b, lab), (e, el) = _target_list(
        [{"boxes": [[1, 2, 5, 6]], "labels": [0]}, {"boxes": torch.zeros(0, 4), "labels": []}]
    )
    assert torch.equal(b, torch.tensor([[1, 2, 5, 6]])) and torch.equal(lab, torch.tensor([0]))
    assert lab.dtype == el.dtype == torch.int64 and e.shape == (0, 4) and el.shape == (0,)


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 5)])
def test_target_list_message_is_exact(shape):
    message = (
        "targets must be a list of dicts or a tensor (N, G, 5) of rows (x1, y1, x2, y2, label) "
        f"padded with label -1, got shape {shape}"
    )
    assert_message(lambda: _target_list(torch.zeros(shape)), ValueError, message)


# --------------------------------------------------------------------------- DetectionLoss

# One row of 10 x 10 anchors sliding right, one on the second object, one far away. Their IoU
# with box 0 = (0, 0, 10, 10) is 1, 2/3, 3/7, 1/3, 1/9 (then 0); with box 1, anchor 5 has 90/109.
ANCHORS = torch.tensor(
    [
        [0.0, 0.0, 10.0, 10.0],
        [2.0, 0.0, 12.0, 10.0],
        [4.0, 0.0, 14.0, 10.0],
        [5.0, 0.0, 15.0, 10.0],
        [8.0, 0.0, 18.0, 10.0],
        [20.0, 20.0, 30.0, 30.0],
        [50.0, 50.0, 60.0, 60.0],
    ]
)
BOXES = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 21.0, 31.0, 30.0]])
# with pos_iou 0.6 and neg_iou 0.3: positives 0, 1 (box 0) and 5 (box 1); 2 and 3 ignored
MATCHES = [0, 0, -2, -2, -1, 1, -1]
WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def test_detection_loss_targets_by_hand():
    loss_fn = detect.DetectionLoss(ANCHORS, 3, WEIGHTS, pos_iou=0.6, neg_iou=0.3)
    cls_t, box_t, matches = loss_fn.targets_for(BOXES, torch.tensor([2, 0]))
    assert matches.tolist() == MATCHES
    # the thresholds are passed on: the defaults (0.5, 0.4) make anchor 3 background
    assert detect.match_anchors(ANCHORS, BOXES).tolist()[3] == -1
    expected_cls = torch.zeros(7, 3)
    expected_cls[0, 2] = expected_cls[1, 2] = expected_cls[5, 0] = 1.0
    assert torch.equal(cls_t, expected_cls)
    expected_box = torch.zeros(7, 4)
    for k in (0, 1, 5):
        expected_box[k] = detect.encode_boxes(BOXES[MATCHES[k]], ANCHORS[k], WEIGHTS)
    # anchor 1 onto box 0 by hand: centre 2 px left of a 10 px anchor, same size
    torch.testing.assert_close(expected_box[1], torch.tensor([10 * -2 / 10, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(box_t, expected_box)
    cls_t, box_t, matches = loss_fn.targets_for(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    assert matches.tolist() == [-1] * 7 and not cls_t.any() and not box_t.any()


def _loss_reference(
    outputs, matches_per_image, labels_per_image, boxes_per_image, alpha, gamma, beta
):
    """The RetinaNet loss from the hand-made matches: focal loss over non-ignored anchors,
    smooth-L1 over positives, both divided by max(1, number of positives)."""
    cls_sum = box_sum = 0.0
    num_pos = 0
    for out, matches, labels, boxes in zip(
        outputs, matches_per_image, labels_per_image, boxes_per_image, strict=True
    ):
        for k, m in enumerate(matches):
            if m == -2:
                continue
            target = torch.zeros(3)
            if m >= 0:
                num_pos += 1
                target[labels[m]] = 1.0
                t = detect.encode_boxes(boxes[m], ANCHORS[k], WEIGHTS)
                box_sum += float(smooth_l1_reference(out[k, 3:] - t, beta).sum())
            cls_sum += float(focal_reference(out[k, :3], target, alpha, gamma).sum())
    num_pos = max(1, num_pos)
    return cls_sum / num_pos, box_sum / num_pos


def test_detection_loss_value_by_hand_and_padded_targets_with_label_zero():
    torch.manual_seed(0)
    outputs = 2 * torch.randn(2, 7, 3 + 4)  # residuals on both sides of beta
    loss_fn = detect.DetectionLoss(
        ANCHORS, 3, WEIGHTS, pos_iou=0.6, neg_iou=0.3, alpha=0.4, gamma=1.5, beta=0.5
    )
    assert loss_fn.last == {}
    cls, box = _loss_reference(
        outputs, [MATCHES, [-1] * 7], [[0, 2], []], [BOXES, None], 0.4, 1.5, 0.5
    )
    # label 0 on box 0 (first row), then padding rows; image 1 is all padding
    padded = torch.full((2, 3, 5), -1.0)
    padded[0, 0, :4], padded[0, 0, 4] = BOXES[0], 0.0
    padded[0, 2, :4], padded[0, 2, 4] = BOXES[1], 2.0
    dicts = [
        {"boxes": BOXES, "labels": torch.tensor([0, 2])},
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)},
    ]
    for targets in (padded, dicts):
        loss = loss_fn(outputs, targets)
        assert loss.shape == ()
        assert loss.item() == pytest.approx(cls + box, rel=1e-5)
        assert loss_fn.last == pytest.approx({"classification": cls, "box": box}, rel=1e-5)


def test_detection_loss_divides_by_at_least_one_positive():
    torch.manual_seed(1)
    outputs = torch.randn(2, 7, 7)
    loss_fn = detect.DetectionLoss(ANCHORS, 3, WEIGHTS, pos_iou=0.6, neg_iou=0.3)
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    # no object: every anchor is background and the sum is divided by 1
    cls, box = _loss_reference(outputs, [[-1] * 7] * 2, [[], []], [None, None], 0.25, 2.0, 1 / 9)
    assert box == 0.0 and loss_fn(outputs, [empty, empty]).item() == pytest.approx(cls, rel=1e-5)
    # one object that only anchor 6 touches (IoU 3/7, below pos_iou: the low-quality rule keeps it)
    far = torch.tensor([[52.0, 52.0, 62.0, 58.0]])
    assert detect.match_anchors(ANCHORS, far, 0.6, 0.3).tolist() == [-1] * 6 + [0]
    cls, box = _loss_reference(
        outputs, [[-1] * 6 + [0], [-1] * 7], [[1], []], [far, None], 0.25, 2.0, 1 / 9
    )
    got = loss_fn(outputs, [{"boxes": far, "labels": torch.tensor([1])}, empty])
    assert box > 0 and got.item() == pytest.approx(cls + box, rel=1e-5)


def test_detection_loss_defaults_and_float64_gradient():
    torch.manual_seed(2)
    outputs = torch.randn(1, 7, 7)
    targets = [{"boxes": BOXES, "labels": torch.tensor([1, 2])}]
    default = detect.DetectionLoss(ANCHORS, 3)
    explicit = detect.DetectionLoss(ANCHORS, 3, (1.0, 1.0, 1.0, 1.0), 0.5, 0.4, 0.25, 2.0, 1.0 / 9)
    assert (default.weights, default.pos_iou, default.neg_iou) == ((1.0, 1.0, 1.0, 1.0), 0.5, 0.4)
    assert (default.alpha, default.gamma, default.beta) == (0.25, 2.0, 1.0 / 9)
    value = default(outputs, targets)
    torch.testing.assert_close(value, explicit(outputs, targets))
    matches = detect.match_anchors(ANCHORS, BOXES).tolist()
    cls, box = _loss_reference(outputs, [matches], [[1, 2]], [BOXES], 0.25, 2.0, 1 / 9)
    # _loss_reference encodes with WEIGHTS; the defaults are 1s: compare the class part only
    assert default.last["classification"] == pytest.approx(cls, rel=1e-5)
    # float64 outputs: the loss is float64 and its gradient is the derivative of its value
    x = outputs.double().requires_grad_(True)
    loss_fn = detect.DetectionLoss(ANCHORS, 3, WEIGHTS, 0.6, 0.3, 0.4, 1.5, 0.5)
    assert loss_fn(x, targets).dtype == torch.float64
    assert torch.autograd.gradcheck(lambda z: loss_fn(z, targets), (x,))


def test_detection_loss_keeps_float32_anchors_from_any_input():
    loss_fn = detect.DetectionLoss(ANCHORS.double().numpy(), 1)
    assert loss_fn.anchors.dtype == torch.float32 and torch.equal(loss_fn.anchors, ANCHORS)
    assert loss_fn.num_classes == 1  # one class is allowed
    assert loss_fn(torch.zeros(1, 7, 5), [{"boxes": BOXES, "labels": [0, 0]}]).item() > 0


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"anchors": torch.zeros(2, 3, 4)}, ValueError, "anchors must have shape (N, 4), got (2, 3, 4)"),
        ({"anchors": torch.zeros(4)}, ValueError, "anchors must have shape (N, 4), got (4,)"),
        ({"anchors": [[0, 0, -1, 1]]}, ValueError, "anchors has x2 < x1 or y2 < y1 in box 0: "
         "[0.0, 0.0, -1.0, 1.0] (boxes must be xyxy with non-negative width and height)"),
        ({"num_classes": 0}, ValueError, "num_classes must be >= 1, got 0"),
        ({"num_classes": 1.0}, TypeError, "num_classes must be an integer, got 1.0 (float)"),
        ({"weights": (1, 1)}, ValueError, "weights must be 4 numbers (wx, wy, ww, wh), got (1, 1)"),
        ({"pos_iou": 1.5}, ValueError, "pos_iou must be in [0, 1], got 1.5"),
        ({"pos_iou": "a"}, TypeError, "pos_iou must be a real number, got 'a' (str)"),
        ({"neg_iou": -0.1}, ValueError, "neg_iou must be in [0, 1], got -0.1"),
        ({"neg_iou": None}, TypeError, "neg_iou must be a real number, got None (NoneType)"),
        ({"beta": 0}, ValueError, "beta must be a finite number > 0, got 0.0"),
        ({"beta": "x"}, TypeError, "beta must be a real number, got 'x' (str)"),
    ],
)  # fmt: skip
def test_detection_loss_messages_are_exact(kwargs, error, message):
    args = {"anchors": ANCHORS, "num_classes": 3} | kwargs
    assert_message(lambda: detect.DetectionLoss(**args), error, message)


def test_detection_loss_call_messages_are_exact():
    loss_fn = detect.DetectionLoss(ANCHORS, 3)
    empty = {"boxes": torch.zeros(0, 4), "labels": []}
    for shape in ((1, 7, 6), (1, 8, 7), (7, 7)):
        assert_message(
            lambda shape=shape: loss_fn(torch.zeros(shape), [empty]),
            ValueError,
            f"outputs must have shape (N, 7, 7) for this loss's anchors, got {shape}; "
            "build the loss with model.loss_fn(image_size)",
        )
    assert_message(
        lambda: loss_fn(torch.zeros(1, 7, 7), [empty, empty]),
        ValueError,
        "targets must describe 1 images, got 2",
    )


def test_detection_loss_learns_a_tiny_scene():
    torch.manual_seed(0)
    model = detect.TinyDetector(width=8)
    anchors = model.anchors((32, 32))
    loss_fn = model.loss_fn((32, 32))
    torch.testing.assert_close(loss_fn.anchors, anchors)
    boxes = torch.tensor([[4.0, 4, 14, 16], [18, 2, 30, 26]])
    cls_t, box_t, matches = loss_fn.targets_for(boxes, torch.tensor([3, 7]))
    expected = torch.as_tensor(detect.match_anchors(anchors, boxes))
    torch.testing.assert_close(matches, expected)
    assert set(cls_t[matches == 0].argmax(1).tolist()) == {3}
    assert set(cls_t[matches == 1].argmax(1).tolist()) == {7}
    assert cls_t[matches < 0].sum() == 0
    decoded = detect.decode_boxes(box_t[matches == 1], anchors[matches == 1])
    torch.testing.assert_close(decoded, boxes[1].expand_as(decoded))
    images = torch.zeros(2, 1, 32, 32)
    targets = [
        {"boxes": boxes, "labels": torch.tensor([3, 7])},
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)},
    ]
    for (x1, y1, x2, y2), c in zip(boxes.long().tolist(), (3, 7), strict=True):
        images[0, 0, y1:y2, x1:x2] = c / 10  # a distinct blob per class
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = loss_fn(model(images), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
    assert set(loss_fn.last) == {"classification", "box"}
    preds = model.predict(images, score_threshold=0.0, iou_threshold=0.5, max_detections=7)
    assert len(preds) == 2 and all(len(p["boxes"]) == 7 for p in preds)
    assert all(torch.all(p["scores"][:-1] >= p["scores"][1:]) for p in preds)


# --------------------------------------------------------------------------- postprocess


def test_postprocess_decodes_with_the_anchors_and_the_weights():
    torch.manual_seed(0)
    k, c, size, weights = 12, 3, (40, 60), (2.0, 3.0, 4.0, 5.0)
    xy = torch.rand(k, 2) * torch.tensor([50.0, 30.0])
    anchors = torch.cat([xy, xy + 4 + 8 * torch.rand(k, 2)], dim=1)
    outputs = torch.randn(2, k, c + 4)
    outputs[1, :, :c] -= 1.0  # fewer candidates in image 1
    anchors[0] = torch.tensor([54.0, 34.0, 64.0, 44.0])  # past the corner: clipped
    outputs[:, 0, :] = torch.tensor([3.0, -9.0, -9.0, 0.0, 0.0, 0.0, 0.0])
    results = detect.postprocess(outputs, anchors, size, c, weights, 0.3, 1.0, 1000)
    assert len(results) == 2
    for out, res in zip(outputs, results, strict=True):
        boxes = decode_reference(out[:, c:], anchors, weights)
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, 60)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, 40)
        scores = torch.sigmoid(out[:, :c].double())
        found = [(s, a, j) for a in range(k) for j in range(c) if (s := float(scores[a, j])) > 0.3]
        found.sort(reverse=True)  # iou_threshold 1 keeps every candidate, best first
        assert len(found) > 4 and set(res) == {"boxes", "scores", "labels"}
        assert res["labels"].tolist() == [j for _, _, j in found]
        assert res["scores"].tolist() == pytest.approx([s for s, _, _ in found], rel=1e-6)
        expected = torch.stack([boxes[a] for _, a, _ in found]).float()
        torch.testing.assert_close(res["boxes"], expected, rtol=1e-5, atol=1e-4)
    for res in results:  # the best is the corner anchor, clipped
        assert res["boxes"][0].tolist() == [54.0, 34.0, 60.0, 40.0]
    best = detect.postprocess(outputs, anchors, size, c, weights, 0.3, 1.0, 3)
    for res, top in zip(results, best, strict=True):
        for key in res:
            torch.testing.assert_close(top[key], res[key][:3])


def _scene(boxes, scores, num_classes=1):
    """Outputs (1, K, C + 4) whose decoded boxes are ``boxes`` (zero deltas on anchors placed
    there) with the given class-0 ``scores``."""
    anchors = torch.tensor(boxes, dtype=torch.float32)
    outputs = torch.zeros(1, len(anchors), num_classes + 4)
    outputs[0, :, :num_classes] = -20.0
    outputs[0, :, 0] = torch.tensor([logit(s) for s in scores])
    return outputs, anchors


def test_postprocess_defaults():
    # 120 disjoint 4 x 4 boxes, all above the score threshold: the best 100 are kept
    grid = [[5.0 * j, 5.0 * i, 5.0 * j + 4, 5.0 * i + 4] for i in range(10) for j in range(12)]
    outputs, anchors = _scene(grid, np.linspace(0.9, 0.1, 120))
    res = detect.postprocess(outputs, anchors, (50, 60), 1)[0]
    assert len(res["boxes"]) == 100
    torch.testing.assert_close(res["boxes"], anchors[:100])
    # IoU 0.6 suppresses, IoU 0.45 does not; a score of 0.049 is dropped, 0.051 kept
    boxes = [[0, 0, 10, 10], [0, 0, 10, 6], [20, 0, 30, 10], [20, 0, 30, 4.5], [40, 0, 45, 5],
             [50, 0, 55, 5]]  # fmt: skip
    outputs, anchors = _scene(boxes, [0.9, 0.8, 0.7, 0.6, 0.051, 0.049], num_classes=2)
    res = detect.postprocess(outputs, anchors, (20, 60), 2)[0]
    assert res["scores"].tolist() == pytest.approx([0.9, 0.7, 0.6, 0.051])
    torch.testing.assert_close(res["boxes"], anchors[[0, 2, 3, 4]])
    assert res["labels"].tolist() == [0, 0, 0, 0]
    explicit = detect.postprocess(
        outputs, anchors, (20, 60), 2, (1.0, 1.0, 1.0, 1.0), 0.05, 0.5, 100
    )
    for key in res:
        assert torch.equal(res[key], explicit[0][key])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"num_classes": 0}, ValueError, "num_classes must be >= 1, got 0"),
        ({"num_classes": 1.0}, TypeError, "num_classes must be an integer, got 1.0 (float)"),
        ({"score_threshold": 1.5}, ValueError, "score_threshold must be in [0, 1], got 1.5"),
        ({"score_threshold": -0.1}, ValueError, "score_threshold must be in [0, 1], got -0.1"),
        ({"score_threshold": None}, TypeError,
         "score_threshold must be a real number, got None (NoneType)"),
    ],
)  # fmt: skip
def test_postprocess_messages_are_exact(kwargs, error, message):
    outputs, anchors = _scene([[0, 0, 4, 4]], [0.9])
    args = {"image_size": (8, 8), "num_classes": 1} | kwargs
    assert_message(lambda: detect.postprocess(outputs, anchors, **args), error, message)


def test_postprocess_accepts_one_class():
    outputs, anchors = _scene([[0, 0, 4, 4], [4, 4, 8, 8]], [0.9, 0.01])
    (res,) = detect.postprocess(outputs, anchors, (8, 8), 1)
    assert res["labels"].tolist() == [0] and res["scores"].tolist() == pytest.approx([0.9])
