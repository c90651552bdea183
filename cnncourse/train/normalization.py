"""Batch normalisation for convolutional feature maps, by hand (chapter 6).

``nn.BatchNorm2d(C)`` keeps one mean and one variance per *channel*: the statistics of channel
``c`` are taken over every image of the batch and every pixel, i.e. over ``N * H * W`` numbers.
In training mode it normalises with the batch's (biased) variance and updates running averages
with the *unbiased* one; in evaluation mode it uses the running averages.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._validate import check_array, check_positive_float, check_unit_interval

__all__ = ["BatchNormResult", "batch_norm2d"]


class BatchNormResult(NamedTuple):
    """What one training-mode batch-norm step computes (tensors of shape (C,) except ``output``)."""

    output: torch.Tensor  # (N, C, H, W)
    mean: torch.Tensor  # batch mean per channel
    var: torch.Tensor  # biased batch variance per channel (used to normalise)
    running_mean: torch.Tensor  # after the update
    running_var: torch.Tensor  # after the update (with the unbiased variance)


def batch_norm2d(
    x: torch.Tensor,
    running_mean: torch.Tensor | None = None,
    running_var: torch.Tensor | None = None,
    *,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> BatchNormResult:
    """One training-mode step of ``nn.BatchNorm2d``, written out.

    Parameters
    ----------
    x : torch.Tensor, shape (N, C, H, W)
        A batch of feature maps; ``N * H * W`` must be at least 2 (a variance needs two numbers).
    running_mean, running_var : torch.Tensor, shape (C,), optional
        The running statistics before this batch (default: zeros and ones, as a fresh layer).
    weight, bias : torch.Tensor, shape (C,), optional
        ``gamma`` and ``beta`` (default: ones and zeros).
    momentum : float
        In [0, 1]: ``running <- (1 - momentum) * running + momentum * batch statistic``.
    eps : float
        > 0, added to the variance before the square root.

    Returns
    -------
    BatchNormResult
        ``output = gamma * (x - mean) / sqrt(var + eps) + beta`` with per-channel ``mean`` and
        biased ``var`` over dimensions (0, 2, 3), and the updated running statistics.
    """
    check_array("x", x, ndim=4)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    momentum = check_unit_interval("momentum", momentum)
    eps = check_positive_float("eps", eps)
    n, c, h, w = x.shape
    count = n * h * w
    if count < 2:
        raise ValueError(
            f"x must give at least 2 values per channel (N*H*W >= 2), got shape {tuple(x.shape)}"
        )

    def per_channel(name: str, value: torch.Tensor | None, default: float) -> torch.Tensor:
        if value is None:
            return torch.full((c,), default, dtype=x.dtype, device=x.device)
        if tuple(check_array(name, value, ndim=1).shape) != (c,):
            raise ValueError(
                f"{name} must have shape ({c},) (one per channel), got {tuple(value.shape)}"
            )
        return torch.as_tensor(value, dtype=x.dtype, device=x.device)

    running_mean = per_channel("running_mean", running_mean, 0.0)
    running_var = per_channel("running_var", running_var, 1.0)
    gamma = per_channel("weight", weight, 1.0)
    beta = per_channel("bias", bias, 0.0)

    mean = x.mean(dim=(0, 2, 3))  # over N*H*W numbers per channel
    var = ((x - mean[None, :, None, None]) ** 2).mean(dim=(0, 2, 3))  # biased
    x_hat = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + eps)
    output = gamma[None, :, None, None] * x_hat + beta[None, :, None, None]
    unbiased = var * count / (count - 1)
    new_mean = (1 - momentum) * running_mean + momentum * mean.detach()
    new_var = (1 - momentum) * running_var + momentum * unbiased.detach()
    return BatchNormResult(output, mean, var, new_mean, new_var)
