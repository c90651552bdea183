"""Training on several processes at once: DistributedDataParallel under ``torchrun``.

The same command line trains on one process or many. ``torchrun`` starts one process per device
and tells each, through environment variables, who it is (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``) and where to meet the others (``MASTER_ADDR``, ``MASTER_PORT``). Every process
holds a full copy of the model and trains on its own shard of each global batch; after every
backward pass DistributedDataParallel *all-reduces* the gradients (sums them over the processes
and divides by their number), so every copy takes the same optimizer step. The global batch is
the per-process batch times the number of processes.

One machine, 2 processes (CPU: gloo; GPUs: nccl, one process per GPU)::

    torchrun --standalone --nproc_per_node=2 -m cnncourse.train resnet20 --data cifar10

Two machines with 8 GPUs each (global batch = 16 x --batch-size): run on *both* nodes, with
``node0.example.org`` the address of the first one and any free port::

    torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d \\
        --rdzv_endpoint=node0.example.org:29400 --rdzv_id=cifar-run-1 \\
        -m cnncourse.train resnet20 --data cifar10 --out /shared/runs

Only rank 0 (the process with ``RANK=0``) prints, shows progress and writes files; on resume it
reads the checkpoint and sends it to the others. The rendezvous decides which node hosts rank 0,
so give ``--out`` a folder that every node sees (a shared file system) for ``--resume`` to find
the checkpoint. Batch-norm statistics are per process, as in standard DDP.

- :func:`init`: join the process group that ``torchrun`` describes (``None`` outside torchrun),
  with a timeout; :class:`LaunchError` for a launch that cannot work.
- :func:`active`, :func:`rank`, :func:`world_size`, :func:`is_main`: who am I.
- :func:`wrap`: the model in ``DistributedDataParallel`` (gradients all-reduced in backward).
- :func:`make_loader`, :func:`set_epoch`, :func:`sharded`: each process's shard of the data,
  reshuffled every epoch.
- :func:`combine`, :func:`all_reduce_sum`, :func:`gather`, :func:`from_main`: sharing numbers and
  objects between the processes.
- :func:`destroy`: leave the process group cleanly.

Outside ``torchrun`` every function is a cheap no-op (one process, rank 0), so the training loop
calls them unconditionally.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from .._validate import check_int, check_positive_float

# What torchrun sets in every process it starts (the "rendezvous" variables).
ENV_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
# Seconds to wait for the other processes (at start-up and in every collective operation).
TIMEOUT_VARIABLE = "CNNCOURSE_DIST_TIMEOUT"
DEFAULT_TIMEOUT = 600.0


class LaunchError(RuntimeError):
    """A distributed launch that cannot work (missing variables, unreachable peers, too little
    data for the processes); the command line prints its message in one line."""


@dataclass(frozen=True)
class Context:
    """This process's place in the group: ``rank`` (0 .. world_size - 1), ``local_rank`` (its
    index on this machine), ``world_size``, the ``backend`` and its ``device``."""

    rank: int
    local_rank: int
    world_size: int
    backend: str
    device: torch.device


def launched() -> bool:
    """True if any of torchrun's variables is set (this process is meant to be distributed)."""
    return any(name in os.environ for name in ENV_VARS)


def _env_int(name: str) -> int:
    text = os.environ[name]
    try:
        return int(text)
    except ValueError:
        raise LaunchError(f"{name} must be an integer, got {text!r}") from None


def init(timeout: float | None = None) -> Context | None:
    """Join the process group that torchrun's environment variables describe.

    Parameters
    ----------
    timeout : float, optional
        Seconds to wait for the other processes, at start-up and in every collective operation
        (> 0). Default: ``$CNNCOURSE_DIST_TIMEOUT``, else 600.

    Returns
    -------
    Context, or ``None`` when none of torchrun's variables is set (plain ``python``: one process).

    Raises
    ------
    LaunchError
        If only some of the variables are set, they are inconsistent, or the other processes do
        not turn up within ``timeout``.
    """
    if not launched():
        return None
    missing = [name for name in ENV_VARS if name not in os.environ]
    if missing:
        set_ = ", ".join(f"{n}={os.environ[n]}" for n in ENV_VARS if n in os.environ)
        raise LaunchError(
            f"distributed launch without {', '.join(missing)} (only {set_} is set); start with "
            "`torchrun --nproc_per_node=N -m cnncourse.train ...`, which sets "
            f"{', '.join(ENV_VARS)}, or unset them all to train in one process"
        )
    if timeout is None:
        text = os.environ.get(TIMEOUT_VARIABLE, str(DEFAULT_TIMEOUT))
        try:
            timeout = float(text)
        except ValueError:
            raise LaunchError(
                f"{TIMEOUT_VARIABLE} must be a number of seconds, got {text!r}"
            ) from None
    timeout = check_positive_float("timeout", timeout)
    rank, local_rank, size = (_env_int(n) for n in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
    if size < 1 or not 0 <= rank < size or local_rank < 0:
        raise LaunchError(
            f"inconsistent launch: RANK={rank}, LOCAL_RANK={local_rank}, WORLD_SIZE={size} "
            "(need WORLD_SIZE >= 1 and 0 <= RANK < WORLD_SIZE)"
        )
    if torch.cuda.is_available():
        backend, device = "nccl", torch.device("cuda", local_rank)
        torch.cuda.set_device(device)  # "cuda" now means this process's GPU
    else:
        backend, device = "gloo", torch.device("cpu")
    where = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
    try:
        dist.init_process_group(
            backend, rank=rank, world_size=size, timeout=timedelta(seconds=timeout)
        )
    except (RuntimeError, ValueError) as exc:  # DistStoreError is a RuntimeError
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LaunchError(
            f"rank {rank} of {size} could not form the process group at {where} within "
            f"{timeout:g} s: {first_line}"
        ) from exc
    return Context(rank, local_rank, size, backend, device)


def active() -> bool:
    """True inside an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 outside a process group)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """Number of processes (1 outside a process group)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """True for the one process that prints and writes files (rank 0)."""
    return rank() == 0


def destroy() -> None:
    """Leave the process group (a no-op outside one)."""
    if active():
        dist.destroy_process_group()


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in ``DistributedDataParallel`` (rank 0's weights are broadcast to all), or
    ``model`` itself outside a process group. The wrapper shares the model's parameters."""
    if not active():
        return model
    device = torch.device(device)
    if device.type != "cuda":
        return nn.parallel.DistributedDataParallel(model)  # gloo on CPU
    index = device.index if device.index is not None else torch.cuda.current_device()
    return nn.parallel.DistributedDataParallel(model, device_ids=[index])


# --------------------------------------------------------------------------- data


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    seed: int = 0,
    num_workers: int = 0,
) -> DataLoader:
    """This process's shard of ``dataset``, shuffled with ``seed`` and reshuffled every epoch.

    A ``DistributedSampler`` gives process ``r`` the samples ``r, r + W, r + 2W, ...`` of a
    permutation that depends on ``seed`` and the epoch (:func:`set_epoch`); every process gets
    the same number (a few samples repeat if ``W`` does not divide the dataset). Batches hold
    ``batch_size`` samples per process, so a global batch has ``batch_size * W``.

    Raises
    ------
    LaunchError
        If there are fewer batches in ``dataset`` than processes (some would train on nothing
        but repeated samples).
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    size = world_size()
    batches = math.ceil(len(dataset) / batch_size)
    if batches < size:
        raise LaunchError(
            f"{size} processes but the training set has only {batches} batch(es) of "
            f"{batch_size} ({len(dataset)} samples): every process needs at least one batch; "
            f"use at most {batches} process(es) or a batch size <= {len(dataset) // size}"
        )
    sampler = DistributedSampler(dataset, num_replicas=size, rank=rank(), shuffle=True, seed=seed)
    generator = torch.Generator()
    generator.manual_seed(seed)  # seeds worker processes; saved in checkpoints like make_loader's
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        generator=generator,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


def sharded(loader) -> bool:
    """True if ``loader`` reads one process's shard (a ``DistributedSampler``)."""
    return isinstance(getattr(loader, "sampler", None), DistributedSampler)


def set_epoch(loader, epoch: int) -> None:
    """Give ``loader``'s ``DistributedSampler`` the epoch (a new shuffle); no-op for others."""
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, DistributedSampler):
        sampler.set_epoch(epoch)


# --------------------------------------------------------------------------- collectives


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Replace ``tensor`` (in place) by its sum over all processes and return it."""
    if active():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def combine(
    stats: dict, count: str = "samples", means: tuple[str, ...] = ("train_loss", "train_accuracy")
) -> dict:
    """Per-process means weighted by their sample counts -> the means over all processes.

    ``stats[count]`` becomes the total count; each ``stats[key]`` for ``key`` in ``means``
    (``None`` stays ``None``) the mean over every sample of every process. Other keys are kept.
    """
    if not active():
        return stats
    n = float(stats[count])
    dev = (
        torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    )
    sums = torch.tensor(
        [n] + [n * stats[k] if stats[k] is not None else 0.0 for k in means],
        dtype=torch.float64,
        device=dev,
    )
    all_reduce_sum(sums)
    total = float(sums[0])
    out = {**stats, count: int(round(total))}
    for key, value in zip(means, sums[1:].tolist(), strict=True):
        out[key] = None if stats[key] is None else value / total
    return out


def gather(obj: Any) -> list:
    """Every process's ``obj``, as a list indexed by rank (``[obj]`` outside a process group)."""
    if not active():
        return [obj]
    found: list = [None] * world_size()
    dist.all_gather_object(found, obj)
    return found


def from_main(make: Callable[[], Any]) -> Any:
    """``make()`` run on rank 0 only and its result sent to every process."""
    if not active():
        return make()
    box = [make() if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]
