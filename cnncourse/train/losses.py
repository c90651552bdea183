"""Label-smoothing cross-entropy (chapter 6), written out so the chapter can check it against torch.

With ``K`` classes and smoothing ``eps`` the target of an example of class ``y`` is no longer the
one-hot vector but ``q = (1 - eps) * onehot(y) + eps / K``, and the loss is the cross-entropy
``-sum_c q_c log p_c`` with ``p = softmax(logits)``. Expanding ``q`` gives

    L = (1 - eps) * CE(logits, y) + eps * mean_c(-log p_c),

which is what ``torch.nn.functional.cross_entropy(..., label_smoothing=eps)`` computes. It is not
``(1 - eps) * CE + eps / K``: the second term depends on the logits of every class.
"""

from __future__ import annotations

import torch

from .._validate import check_array, check_int, check_unit_interval

__all__ = ["smoothed_cross_entropy", "smoothed_targets"]


def smoothed_targets(target: torch.Tensor, num_classes: int, eps: float) -> torch.Tensor:
    """The smoothed target distribution ``q = (1 - eps) * onehot(target) + eps / K``.

    Parameters
    ----------
    target : torch.Tensor of int, shape (N,)
        Class indices in ``[0, num_classes)``.
    num_classes : int
        ``K``, at least 2.
    eps : float
        Smoothing in ``[0, 1]``.

    Returns
    -------
    torch.Tensor, shape (N, K), float32
        Every row sums to 1; the true class gets ``1 - eps + eps / K``, the others ``eps / K``.
    """
    eps = check_unit_interval("eps", eps)
    labels = check_array("target", target, ndim=1)
    num_classes = check_int("num_classes", num_classes, minimum=2)
    if labels.size and (
        labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= num_classes
    ):
        raise ValueError(
            f"target must hold integer class indices in [0, {num_classes - 1}], got values "
            f"{labels.min()}..{labels.max()} (dtype {labels.dtype})"
        )
    target = torch.as_tensor(labels, dtype=torch.long)
    onehot = torch.nn.functional.one_hot(target, num_classes).float()
    return (1 - eps) * onehot + eps / num_classes


def smoothed_cross_entropy(logits: torch.Tensor, target: torch.Tensor, eps: float) -> torch.Tensor:
    """Mean cross-entropy between ``softmax(logits)`` and the label-smoothed targets.

    Parameters
    ----------
    logits : torch.Tensor, shape (N, K)
        Raw class scores (not probabilities); gradients flow through them.
    target : torch.Tensor of int, shape (N,)
        Class indices in ``[0, K)``.
    eps : float
        Smoothing in ``[0, 1]``; ``eps = 0`` is the ordinary cross-entropy.

    Returns
    -------
    torch.Tensor, shape ()
        ``mean_n -sum_c q_nc log softmax(logits_n)_c``, equal to
        ``F.cross_entropy(logits, target, label_smoothing=eps)``.
    """
    check_array("logits", logits, ndim=2)
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    n, k = logits.shape
    if len(target) != n:
        raise ValueError(f"target must have one label per row of logits ({n}), got {len(target)}")
    q = smoothed_targets(target, k, eps).to(logits.device, logits.dtype)
    log_p = torch.log_softmax(logits, dim=1)  # log-sum-exp inside: stable for large logits
    return -(q * log_p).sum(dim=1).mean()
