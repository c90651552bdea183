"""One epoch of training: the inner loop of :func:`~cnncourse.train.fit`.

- :class:`StepSettings`: how each step runs (device, mixed precision, loss scaling, clipping).
- :func:`train_one_epoch`: forward, loss, backward, optimizer step for every batch of a loader.
- :class:`Meter`: sample-weighted mean loss and accuracy over batches (``evaluate`` uses it too).
- :func:`to_device`, :func:`current_lr`: small batch and optimizer helpers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from . import profiles


@dataclass(frozen=True)
class StepSettings:
    """How every training step of a :func:`fit` call runs.

    ``amp``/``dtype``/``channels_last`` come from :func:`~cnncourse.train.select_amp`;
    ``scaler`` is a ``GradScaler`` for float16 (else ``None``); ``grad_clip`` bounds the global
    gradient norm (``None``: no clipping).
    """

    device: torch.device
    amp: bool = False
    dtype: torch.dtype | None = None
    channels_last: bool = False
    scaler: torch.amp.GradScaler | None = None
    grad_clip: float | None = None

    @classmethod
    def choose(cls, device, amp=None, channels_last=None, grad_clip=None) -> StepSettings:
        """The settings :func:`~cnncourse.train.select_amp` picks for ``device``."""
        dev = torch.device(device)
        chosen = profiles.select_amp(dev, amp, channels_last)
        scaler = torch.amp.GradScaler(dev.type) if chosen["grad_scaler"] else None
        return cls(dev, chosen["amp"], chosen["dtype"], chosen["channels_last"], scaler, grad_clip)

    def autocast(self):
        """The forward pass's mixed-precision context (a no-op context when AMP is off)."""
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)


class Meter:
    """Sample-weighted mean loss and accuracy over batches.

    Batch results stay on the device and are summed once at the end: no ``.item()`` per batch,
    so a GPU never waits for the CPU (and the CPU does one small op per batch, not six).
    """

    def __init__(self):
        self.losses, self.sizes, self.predictions, self.targets = [], [], [], []
        self.classification = True

    def add(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> None:
        self.losses.append(loss.detach())
        self.sizes.append(len(y))
        # Accuracy only for logits (N, C) against class indices (N,).
        self.classification = (
            self.classification and out.ndim == 2 and y.ndim == 1 and not y.is_floating_point()
        )
        if self.classification:
            self.predictions.append(out.detach().argmax(1))
            self.targets.append(y)

    def result(self) -> tuple[float, float | None, int]:
        """(mean loss, accuracy or None, number of samples)."""
        seen = sum(self.sizes)
        sizes = torch.tensor(self.sizes, dtype=torch.float64, device=self.losses[0].device)
        loss = float(torch.stack(self.losses).double() @ sizes) / seen
        if not self.classification:
            return loss, None, seen
        correct = (torch.cat(self.predictions) == torch.cat(self.targets)).sum()
        return loss, float(correct) / seen, seen


def to_device(batch, dev: torch.device, channels_last: bool):
    """Move an ``(inputs, targets)`` batch to ``dev`` (inputs NHWC if ``channels_last``)."""
    if not isinstance(batch, (list, tuple)) or len(batch) != 2:
        raise ValueError(
            "every batch must be a pair (inputs, targets); got "
            f"{type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}"
        )
    x, y = batch
    x = x.to(dev, non_blocking=True)
    if channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(dev, non_blocking=True)


def current_lr(optimizer) -> float:
    """The learning rate of the optimizer's first parameter group."""
    return float(optimizer.param_groups[0]["lr"])


def _backward_and_step(loss, model, optimizer, step: StepSettings) -> None:
    """``loss.backward(); optimizer.step()``, with loss scaling and clipping when asked."""
    scaler = step.scaler
    (loss if scaler is None else scaler.scale(loss)).backward()
    if step.grad_clip is not None:
        if scaler is not None:
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        nn.utils.clip_grad_norm_(model.parameters(), step.grad_clip)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()


def train_one_epoch(
    model: nn.Module,
    loader,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable,
    step: StepSettings,
    *,
    scheduler=None,
    bar=None,
    batch_losses: list[float] | None = None,
) -> dict:
    """One pass over ``loader``: forward, loss, backward, optimizer step for every batch.

    Parameters
    ----------
    model, loader, optimizer, loss_fn
        As in :func:`fit`.
    step : StepSettings
    scheduler : LR scheduler, optional
        Stepped after every batch (a per-batch schedule such as ``OneCycleLR``).
    bar : tqdm, optional
        Advanced by one per batch.
    batch_losses : list, optional
        Every batch's loss is appended to it (one device-to-host copy per batch).

    Returns
    -------
    dict with ``train_loss``, ``train_accuracy`` (``None`` if not classification), ``lr`` (the
    rate of the last step) and ``samples``.
    """
    model.train()
    meter = Meter()
    lr = current_lr(optimizer)
    for batch in loader:
        x, y = to_device(batch, step.device, step.channels_last)
        with step.autocast():
            out = model(x)
            loss = loss_fn(out, y)
        optimizer.zero_grad(set_to_none=True)
        _backward_and_step(loss, model, optimizer, step)
        lr = current_lr(optimizer)  # the rate this step used (before the scheduler moves it)
        if scheduler is not None:
            scheduler.step()
        meter.add(out, y, loss)
        if batch_losses is not None:
            batch_losses.append(float(loss.detach()))
        if bar is not None:
            bar.update()
    loss, accuracy, seen = meter.result()
    return {"train_loss": loss, "train_accuracy": accuracy, "lr": lr, "samples": seen}
