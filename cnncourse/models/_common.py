"""Helpers shared by the model families: argument checks and multiply-add counting.

Two independent counters are kept on purpose, so that each checks the other:

- :func:`count_multiply_adds` asks PyTorch's ``FlopCounterMode`` (which counts the matrix
  multiplications and convolutions the dispatcher actually runs; 1 multiply-add = 2 FLOPs),
- :func:`count_multiply_adds_hooks` adds up the textbook formula per convolution and linear
  layer from the shapes a forward hook sees: it is ``cnncourse.tracer.trace(...).mult_adds``.

Both ignore the cheap element-wise work (bias adds, ReLU, batch norm, pooling, the SE rescale),
as papers do when they quote "mult-adds".
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .. import tracer
from .._validate import check_int, check_module


def check_model_args(num_classes, in_channels) -> tuple[int, int]:
    """Validate the two arguments every constructor takes; return them as ints."""
    return (
        check_int("num_classes", num_classes, minimum=1),
        check_int("in_channels", in_channels, minimum=1),
    )


def input_batch_shape(input_shape: Sequence[int]) -> tuple[int, int, int, int]:
    """Turn ``(C, H, W)`` or ``(N, C, H, W)`` into a validated NCHW tuple (batch 1 if missing)."""
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise TypeError(
            f"input_shape must be a tuple (C, H, W) or (N, C, H, W), got {input_shape!r}"
        )
    if len(input_shape) not in (3, 4):
        raise ValueError(
            f"input_shape must have 3 (C, H, W) or 4 (N, C, H, W) entries, got {tuple(input_shape)!r}"
        )
    shape = tuple(check_int(f"input_shape[{i}]", v, minimum=1) for i, v in enumerate(input_shape))
    return shape if len(shape) == 4 else (1, *shape)


def _run(model: nn.Module, input_shape: Sequence[int]) -> None:
    """One forward pass in eval mode without gradients; the model's mode is restored."""
    check_module("model", model)
    shape = input_batch_shape(input_shape)
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(shape, dtype=dtype, device=device))
    finally:
        model.train(was_training)


def count_multiply_adds(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of one forward pass, counted by ``torch.utils.flop_counter.FlopCounterMode``.

    Parameters
    ----------
    model : torch.nn.Module
        Any model; it is run once in eval mode on zeros (its train/eval mode is restored).
    input_shape : tuple of int
        ``(C, H, W)`` (batch of 1) or ``(N, C, H, W)``.

    Returns
    -------
    int
        Multiply-adds (MACs) = FLOPs / 2 of the convolutions and matrix products, for the
        whole batch. Bias additions and element-wise layers are not counted.
    """
    with FlopCounterMode(display=False) as counter:
        _run(model, input_shape)
    return counter.get_total_flops() // 2


def count_multiply_adds_hooks(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of the convolution and linear layers, from the textbook formulas.

    A convolution producing an output of ``N x F x H' x W'`` costs
    ``N * F * H' * W' * (C / groups) * kh * kw`` multiply-adds; a linear layer producing
    ``(..., out_features)`` costs ``numel(output) * in_features``. The shapes come from one
    forward pass with hooks: this is :func:`cnncourse.tracer.trace`'s ``mult_adds`` total.

    Parameters
    ----------
    model : torch.nn.Module
        The model; run once in eval mode on zeros (its train/eval modes are restored).
    input_shape : tuple of int
        ``(C, H, W)`` (batch of 1) or ``(N, C, H, W)``.

    Returns
    -------
    int
        Total multiply-adds over all convolution and ``Linear`` layers (other layers count 0).
    """
    check_module("model", model)
    return tracer.trace(model, input_batch_shape(input_shape)).mult_adds
