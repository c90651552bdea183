"""Input handling shared by the detection modules: tensor coercion and box validation.

- :func:`_to_tensor` / :func:`_out` -- accept numpy or torch, answer in kind.
- :func:`_check_boxes` / :func:`_boxes` -- shape ``(N, 4)`` or ``(..., 4)``, finite, and
  non-negative widths and heights, with errors that name the argument and the bad box.
- :func:`_scores` / :func:`_labels` -- one finite score, or one class label, per box.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._validate import check_array


def _to_tensor(name: str, value: Any) -> tuple[torch.Tensor, bool]:
    """``value`` as a floating tensor, and whether the caller gave numpy (answer in numpy)."""
    if isinstance(value, torch.Tensor):
        t = value
        if not t.is_floating_point():
            t = t.to(torch.get_default_dtype())
        return t, False
    arr = check_array(name, value)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return torch.from_numpy(np.ascontiguousarray(arr)), True


def _out(t: torch.Tensor, as_numpy: bool):
    return t.detach().cpu().numpy() if as_numpy else t


def _check_boxes(name: str, boxes: torch.Tensor, fmt: str = "xyxy", ndim: int | None = None):
    """Raise ValueError unless ``boxes`` has shape (..., 4) (or (N, 4)) of valid ``fmt`` boxes."""
    if boxes.ndim == 0 or boxes.shape[-1] != 4 or (ndim is not None and boxes.ndim != ndim):
        want = "(N, 4)" if ndim == 2 else "(..., 4)"
        raise ValueError(f"{name} must have shape {want}, got {tuple(boxes.shape)}")
    if boxes.numel() == 0:
        return
    with torch.no_grad():
        flat = boxes.detach().reshape(-1, 4)
        bad = ~torch.isfinite(flat).all(dim=1)
        if bad.any():
            i = int(bad.nonzero()[0, 0])
            raise ValueError(f"{name} must be finite, got box {i}: {flat[i].tolist()}")
        if fmt == "xyxy":
            sizes, what = flat[:, 2:] - flat[:, :2], "x2 < x1 or y2 < y1"
        else:
            sizes, what = flat[:, 2:], "a negative width or height"
        bad = (sizes < 0).any(dim=1)
        if bad.any():
            i = int(bad.nonzero()[0, 0])
            raise ValueError(
                f"{name} has {what} in box {i}: {flat[i].tolist()} "
                f"(boxes must be {fmt} with non-negative width and height)"
            )


def _boxes(name: str, boxes: Any, fmt: str = "xyxy", ndim: int | None = None):
    t, as_numpy = _to_tensor(name, boxes)
    _check_boxes(name, t, fmt, ndim)
    return t, as_numpy


def _scores(name: str, scores: Any, n: int) -> torch.Tensor:
    s, _ = _to_tensor(name, scores)
    if s.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like the boxes, got {tuple(s.shape)}")
    if n and not torch.isfinite(s).all():
        raise ValueError(f"{name} must be finite, got {s.tolist()}")
    return s


def _labels(name: str, labels: Any, n: int) -> torch.Tensor:
    """Class labels, one per box, as a tensor (of the given dtype)."""
    lab = torch.as_tensor(check_array(name, labels))
    if lab.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like the boxes, got {tuple(lab.shape)}")
    return lab
