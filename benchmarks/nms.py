"""Time chapter 8's NMS against a vectorised torch reference, and the detector's inference.

    .venv/bin/python benchmarks/nms.py

1. ``detect.nms`` (readable: the kept boxes of ``detect.nms_steps``, one IoU row per kept box,
   each step also recording what it suppressed for the chapter's explorer) vs a vectorised
   reference that computes the whole IoU matrix once and then only flips a suppression mask (the
   algorithm of torchvision's CPU kernel, in torch), on clustered random boxes. Both must return
   the same indices; the ratio is ours / reference.
2. ``TinyDetector`` inference per 64x64 image: the forward pass (batch 1 and 64) and the
   post-processing (decode, score threshold, per-class NMS) with few and with many candidates.
"""

import time

import numpy as np
import torch

from cnncourse import detect


def best_of(fn, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """IoU matrix once, then a greedy pass over a boolean mask (torchvision's CPU algorithm)."""
    order = torch.argsort(scores, descending=True, stable=True)
    b = boxes[order]
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.maximum(b[:, None, :2], b[None, :, :2])
    rb = torch.minimum(b[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area[:, None] + area[None, :] - inter
    over = (inter > iou_threshold * union).numpy()  # IoU > t without dividing
    removed = np.zeros(len(b), dtype=bool)
    keep = []
    for i in range(len(b)):
        if not removed[i]:
            keep.append(i)
            removed |= over[i]
    return order[torch.tensor(keep, dtype=torch.int64)]


def clustered_boxes(n: int, seed: int = 0):
    """``n`` boxes in clusters of about 10 around random objects, with random scores."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(max(1, n // 10), 2, generator=g) * 500
    idx = torch.randint(len(centres), (n,), generator=g)
    c = centres[idx] + torch.randn(n, 2, generator=g) * 4
    wh = 20 + torch.rand(n, 2, generator=g) * 40
    return torch.cat([c - wh / 2, c + wh / 2], dim=1), torch.rand(n, generator=g)


def main():
    torch.set_grad_enabled(False)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("\nNMS (IoU threshold 0.5), clustered boxes: ours vs vectorised reference")
    for n in (100, 1000, 3000):
        boxes, scores = clustered_boxes(n)
        ours = detect.nms(boxes, scores, 0.5)
        ref = nms_reference(boxes, scores, 0.5)
        assert torch.equal(ours, ref), "nms and the reference disagree"
        t_ours = best_of(lambda b=boxes, s=scores: detect.nms(b, s, 0.5))
        t_ref = best_of(lambda b=boxes, s=scores: nms_reference(b, s, 0.5))
        print(
            f"  N={n:<5} kept {len(ours):<4} ours {t_ours * 1e3:8.2f} ms   "
            f"reference {t_ref * 1e3:8.2f} ms   {t_ours / t_ref:6.2g}x reference"
        )

    print("\nTinyDetector inference per 64x64 image (untrained weights, eval mode)")
    torch.manual_seed(0)
    model = detect.TinyDetector().eval()
    anchors = model.anchors((64, 64))
    for batch in (1, 64):
        x = torch.rand(batch, 1, 64, 64)
        t = best_of(lambda x=x: model(x))
        print(f"  forward, batch {batch:<3}              {t / batch * 1e3:8.3f} ms per image")
    out = model(torch.rand(64, 1, 64, 64))
    for threshold, what in ((0.05, "few candidates"), (0.0, "all 3840 candidates")):
        t = best_of(
            lambda th=threshold: detect.postprocess(out, anchors, (64, 64), 10, (1, 1, 1, 1), th),
            repeat=3,
        )
        print(f"  postprocess, {what:<20} {t / 64 * 1e3:8.3f} ms per image")


if __name__ == "__main__":
    main()
