"""The training loop of chapter 6: :func:`fit`, and scoring a model.

- :func:`fit`: train for some epochs; validation, schedulers, callbacks, checkpoints, progress.
  Each epoch is :func:`~cnncourse.train.epoch.train_one_epoch`. Under ``torchrun`` the same loop
  runs in every process (see :mod:`~cnncourse.train.distributed`).
- :func:`evaluate`, :func:`predict`: score a model / collect its outputs, in eval mode.
- :func:`format_epoch`: the one-line log of an epoch.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_bool, check_choice, check_int, check_module, check_positive_float
from . import distributed, profiles, threads
from .callbacks import Callback, TrainState
from .checkpoint import load_checkpoint, pack_state, restore_state, save_checkpoint
from .epoch import Meter, StepSettings, current_lr, to_device, train_one_epoch
from .history import History, LivePlot, in_notebook

# --------------------------------------------------------------------------- scoring


def _check_loader(name: str, loader) -> None:
    if not hasattr(loader, "__iter__") or not hasattr(loader, "__len__"):
        raise TypeError(f"{name} must be an iterable with a length (a DataLoader), got {loader!r}")
    if len(loader) == 0:
        raise ValueError(f"{name} has no batches (empty dataset, or drop_last with a big batch)")


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader,
    loss_fn: Callable | None = None,
    device: torch.device | str | None = None,
    amp: bool | None = None,
) -> dict[str, float]:
    """Average loss and accuracy of ``model`` on every batch of ``loader``, in eval mode.

    Parameters
    ----------
    model : nn.Module
        Maps inputs (N, ...) to logits (N, C). Its train/eval mode is restored afterwards.
    loader : iterable of (inputs, targets)
        E.g. a ``DataLoader``; targets are class indices (N,).
    loss_fn : callable, optional
        Mean-reduced loss ``loss_fn(logits, targets)``; default cross-entropy.
    device : optional
        Default: the device of the model's first parameter.
    amp : bool, optional
        As in :func:`~cnncourse.train.select_amp`.

    Returns
    -------
    dict with ``loss`` (mean per sample), ``accuracy`` (``None`` for non-classification
    outputs) and ``n`` (number of samples).
    """
    _check_loader("loader", loader)
    loss_fn = F.cross_entropy if loss_fn is None else loss_fn
    dev = _model_device(model) if device is None else torch.device(device)
    step = StepSettings.choose(dev, amp, channels_last=False)
    was_training = model.training
    model.eval()
    meter = Meter()
    try:
        for batch in loader:
            x, y = to_device(batch, dev, False)
            with step.autocast():
                out = model(x)
                loss = loss_fn(out, y)
            meter.add(out, y, loss)
    finally:
        model.train(was_training)
    loss, accuracy, n = meter.result()
    return {"loss": loss, "accuracy": accuracy, "n": n}


@torch.no_grad()
def predict(
    model: nn.Module,
    data,
    device: torch.device | str | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """Outputs (logits) of ``model`` for every input, in eval mode, on the CPU.

    Parameters
    ----------
    model : nn.Module
    data : DataLoader, Dataset or Tensor
        Batches ``(inputs, targets)`` or ``inputs``; a Dataset of ``(input, target)`` items; or
        one tensor of inputs (N, ...).
    device : optional
        Default: the model's device.
    batch_size : int
        Batch size used for a Dataset or Tensor.

    Returns
    -------
    Tensor of shape (N, C): the model's outputs (apply ``softmax(dim=1)`` for probabilities,
    ``argmax(1)`` for classes).
    """
    from torch.utils.data import DataLoader, Dataset

    batch_size = check_int("batch_size", batch_size, minimum=1)
    dev = _model_device(model) if device is None else torch.device(device)
    if isinstance(data, torch.Tensor):
        batches = (data[i : i + batch_size] for i in range(0, len(data), batch_size))
    elif isinstance(data, Dataset):
        batches = DataLoader(data, batch_size=batch_size)
    elif hasattr(data, "__iter__"):
        batches = data
    else:
        raise TypeError(f"data must be a DataLoader, Dataset or Tensor, got {type(data).__name__}")
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for batch in batches:
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            outputs.append(model(x.to(dev)).float().cpu())
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("data holds no samples")
    return torch.cat(outputs)


# --------------------------------------------------------------------------- fit


def _scheduler_interval(scheduler, interval: str) -> str:
    check_choice("scheduler_interval", interval, ("auto", "batch", "epoch"))
    if interval != "auto":
        return interval
    per_batch = (torch.optim.lr_scheduler.OneCycleLR, torch.optim.lr_scheduler.CyclicLR)
    return "batch" if isinstance(scheduler, per_batch) else "epoch"


def _epoch_bar(bar, total: int, epoch: int, epochs: int):
    """One tqdm bar, restarted every epoch (a notebook keeps one widget, not one per epoch)."""
    from tqdm.auto import tqdm

    if bar is None:
        bar = tqdm(total=total, unit="batch", dynamic_ncols=True)
    else:
        bar.reset(total=total)
    bar.set_description(f"epoch {epoch}/{epochs}", refresh=False)
    return bar


def _check_fit_arguments(
    model, train_loader, val_loader, callbacks, checkpoint, resume, grad_clip, flags
) -> list:
    """:func:`fit`'s argument checks; returns the callbacks as a list."""
    check_module("model", model)
    _check_loader("train_loader", train_loader)
    if val_loader is not None:
        _check_loader("val_loader", val_loader)
    if grad_clip is not None:
        check_positive_float("grad_clip", grad_clip)
    for name, flag in {"resume": resume, **flags}.items():
        check_bool(name, flag)
    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint path")
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not hasattr(cb, "on_epoch_end"):
            raise TypeError(f"callbacks[{i}] must have an on_epoch_end method, got {cb!r}")
    return callbacks


def _step_scheduler(scheduler, row: dict) -> None:
    """An epoch step; ``ReduceLROnPlateau`` watches the validation loss, else the training loss."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(row["val_loss"] if row["val_loss"] is not None else row["train_loss"])
    else:
        scheduler.step()


def _load_for_resume(checkpoint, dev: torch.device) -> dict | None:
    """The checkpoint to resume from, or ``None`` if there is none yet. Under torchrun rank 0
    reads it and sends it to the others (their disks may not hold it)."""
    if not distributed.active():
        return load_checkpoint(checkpoint, map_location=dev) if Path(checkpoint).exists() else None
    return distributed.from_main(
        lambda: load_checkpoint(checkpoint) if Path(checkpoint).exists() else None
    )


def fit(
    model: nn.Module,
    train_loader,
    val_loader=None,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler=None,
    loss_fn: Callable | None = None,
    device: torch.device | str | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    callbacks: Sequence[Callback] = (),
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    scheduler_interval: str = "auto",
    grad_clip: float | None = None,
    progress: bool = True,
    live_plot: bool | None = None,
    verbose: bool = True,
    title: str | None = None,
    record_batch_loss: bool = False,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return its :class:`History`.

    Parameters
    ----------
    model : nn.Module
        Maps a batch of inputs (N, ...) to outputs, e.g. logits (N, C).
    train_loader : DataLoader
        Yields ``(inputs, targets)``. Give it a seeded ``generator`` (see
        :func:`cnncourse.datasets.make_loader`) for repeatable, resumable runs.
    val_loader : DataLoader, optional
        Scored with :func:`evaluate` after every epoch (``val_loss``, ``val_accuracy``).
    epochs : int
        Total number of epochs (>= 1), counting those done before a resume.
    optimizer : torch.optim.Optimizer, optional
        Default ``AdamW(lr=1e-3)``.
    scheduler : LR scheduler, optional
        Stepped after every batch (``OneCycleLR``, ``CyclicLR``) or every epoch (others;
        ``ReduceLROnPlateau`` gets the validation loss, else the training loss); override with
        ``scheduler_interval``.
    loss_fn : callable, optional
        Mean-reduced ``loss_fn(outputs, targets)``; default ``F.cross_entropy`` (takes logits).
    device : optional
        Default :func:`~cnncourse.train.device` (CUDA, MPS, CPU). The model is moved there.
    amp, channels_last : bool, optional
        Mixed precision and NHWC memory format; default on for CUDA only
        (:func:`~cnncourse.train.select_amp`).
    callbacks : sequence of Callback
        E.g. :class:`~cnncourse.train.EarlyStopping`, :class:`~cnncourse.train.BestCheckpoint`.
    checkpoint : path, optional
        Write the full training state here after every epoch (atomically, SHA-256 sidecar).
        Under torchrun only rank 0 writes it.
    resume : bool
        If ``checkpoint`` exists, restore model, optimizer, scheduler, callbacks, history and all
        random states from it and continue after its last epoch.
    scheduler_interval : {'auto', 'batch', 'epoch'}
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    progress : bool
        Show a ``tqdm.auto`` progress bar per epoch.
    live_plot : bool, optional
        Update a loss/accuracy figure in place after every epoch; default: only in a notebook.
    verbose : bool
        Print one line per epoch.
    title : str, optional
        Title of the live plot.
    record_batch_loss : bool
        Also keep every batch's training loss in ``history.batch_loss`` (costs one
        device-to-host copy per batch).

    Under ``torchrun`` (an initialised process group) every process runs ``fit`` on its own
    shard of the data (:func:`cnncourse.train.distributed.make_loader`): the model is wrapped in
    ``DistributedDataParallel``, the sampler is reshuffled every epoch, the epoch's training
    loss and accuracy are averaged over every sample of every process (all-reduce), and only
    rank 0 prints, shows progress, plots and writes the checkpoint.

    Returns
    -------
    History

    Raises
    ------
    FloatingPointError
        If the training loss becomes NaN or infinite (usually: learning rate too high).
    """
    epochs = check_int("epochs", epochs, minimum=1)
    callbacks = _check_fit_arguments(
        model, train_loader, val_loader, callbacks, checkpoint, resume, grad_clip,
        {"progress": progress, "verbose": verbose, "record_batch_loss": record_batch_loss},
    )  # fmt: skip
    dev = profiles.device() if device is None else torch.device(device)
    threads.configure_threads(dev)  # only the idle cores: a busy CPU is not oversubscribed
    step = StepSettings.choose(dev, amp, channels_last, grad_clip)
    model.to(dev)
    if step.channels_last:
        model.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = F.cross_entropy if loss_fn is None else loss_fn
    interval = _scheduler_interval(scheduler, scheduler_interval)
    # Under torchrun: one copy of the model per process, gradients averaged in backward.
    net = distributed.wrap(model, dev)
    main = distributed.is_main()  # only rank 0 talks and writes
    progress, verbose = progress and main, verbose and main
    history = History()
    state = TrainState(model, optimizer, scheduler, history, epochs)
    saved_with = {"scaler": step.scaler, "callbacks": callbacks, "loader": train_loader}
    saved = _load_for_resume(checkpoint, dev) if resume else None
    if saved is not None:
        restore_state(saved, state, **saved_with)
        if verbose:
            print(f"resumed from {checkpoint} after epoch {state.epoch}")
    show_live = in_notebook() if live_plot is None else check_bool("live_plot", live_plot)
    show_live = show_live and main
    plot = LivePlot(title, epochs) if show_live else None
    if plot is not None:
        plot.update(history)  # show the (empty or resumed) axes first, above the progress bar

    bar = None
    try:
        for epoch in range(state.epoch + 1, epochs + 1):
            if state.stop:
                break
            state.epoch = epoch
            if progress:
                bar = _epoch_bar(bar, len(train_loader), epoch, epochs)
            distributed.set_epoch(train_loader, epoch)  # a new shuffle of the shards
            t0 = time.perf_counter()
            stats = train_one_epoch(
                net,
                train_loader,
                optimizer,
                loss_fn,
                step,
                scheduler=scheduler if interval == "batch" else None,
                bar=bar,
                batch_losses=history.batch_loss if record_batch_loss else None,
            )
            stats = distributed.combine(stats)  # means and counts over all processes
            train_time = time.perf_counter() - t0
            if not math.isfinite(stats["train_loss"]):
                raise FloatingPointError(
                    f"the training loss became {stats['train_loss']} in epoch {epoch}; lower the "
                    f"learning rate (now {current_lr(optimizer):.3g}) or clip gradients "
                    "(grad_clip=1.0)"
                )
            scores = (
                {} if val_loader is None else evaluate(model, val_loader, loss_fn, dev, step.amp)
            )
            if val_loader is not None and distributed.sharded(val_loader):  # one shard each
                scores = distributed.combine(scores, count="n", means=("loss", "accuracy"))
            row = {
                "epoch": epoch,
                "train_loss": stats["train_loss"],
                "train_accuracy": stats["train_accuracy"],
                "val_loss": scores.get("loss"),
                "val_accuracy": scores.get("accuracy"),
                "lr": stats["lr"],
            }
            if scheduler is not None and interval == "epoch":
                _step_scheduler(scheduler, row)
            row["time"] = time.perf_counter() - t0
            row["throughput"] = stats["samples"] / train_time
            history.append(row)
            for cb in callbacks:
                cb.on_epoch_end(state)
            if checkpoint is not None:
                packed = pack_state(state, **saved_with)  # every process: gathers random states
                if main:
                    save_checkpoint(checkpoint, packed)
            if verbose:
                # tqdm.write keeps a terminal progress bar below the log lines.
                (bar.write if bar is not None else print)(format_epoch(row, epochs))
            if plot is not None:
                plot.update(history)
    finally:
        if bar is not None:
            bar.close()
    for cb in callbacks:
        if hasattr(cb, "on_train_end"):
            cb.on_train_end(state)
    return history


def format_epoch(row: dict, epochs: int | None = None) -> str:
    """One log line for a history row: ``epoch 3/12 train_loss=0.1234 ... time=1.9s``."""
    total = f"/{epochs}" if epochs else ""
    parts = [f"epoch {row['epoch']}{total}"]
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        if row.get(key) is not None:
            parts.append(f"{key}={row[key]:.4f}")
    parts.append(f"lr={row['lr']:.3g}")
    parts.append(f"time={row['time']:.1f}s")
    parts.append(f"throughput={row['throughput']:.0f}/s")
    return " ".join(parts)
