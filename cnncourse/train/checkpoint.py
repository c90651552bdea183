"""Checkpoints: files that survive a crash, and everything a run needs to continue exactly.

- :func:`save_checkpoint`, :func:`load_checkpoint`: ``torch.save`` written atomically with a
  SHA-256 sidecar (``sha256sum -c`` format), verified on load.
- :func:`rng_state`, :func:`set_rng_state`: the Python, NumPy, torch, CUDA and DataLoader random
  states (a resumed run draws the same batches and dropout masks).
- :func:`pack_state`, :func:`restore_state`: the training state that
  :func:`~cnncourse.train.fit` saves after every epoch and restores on ``resume=True``. Under
  torchrun the random states of every process are saved (each process draws its own
  augmentations and dropout masks), and each process restores its own.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._files import atomic_write, sha256_file
from ..data import ChecksumError
from . import distributed

if TYPE_CHECKING:
    from .callbacks import Callback, TrainState

FORMAT = 1  # version of the dict pack_state writes


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Save ``state`` with ``torch.save``, atomically, plus a ``<path>.sha256`` sidecar.

    The sidecar uses the ``sha256sum`` format (``<hex>  <name>``), so ``sha256sum -c`` checks
    it too. :func:`load_checkpoint` refuses a file whose hash does not match.
    """
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda f: f.write(buffer.getbuffer()))
    digest = sha256_file(path)
    atomic_write(_sidecar(path), lambda f: f.write(f"{digest}  {path.name}\n".encode()))
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`, verifying its SHA-256 first.

    Raises
    ------
    FileNotFoundError
        If the checkpoint or its ``.sha256`` sidecar is missing.
    cnncourse.data.ChecksumError
        If the file does not match its sidecar (corrupt, truncated or edited).
    """
    path = Path(path)
    side = _sidecar(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if not side.exists():
        raise FileNotFoundError(f"checkpoint {path} has no SHA-256 sidecar {side.name}")
    expected = side.read_text().split()[0]
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"checkpoint {path} has SHA-256 {actual}, but {side.name} says {expected}: the file "
            "is corrupt or was changed (or a save was interrupted between the two files). "
            "Delete both to start over."
        )
    # weights_only: only tensors and plain containers are unpickled (no arbitrary code).
    return torch.load(path, map_location=map_location, weights_only=True)


# --------------------------------------------------------------------------- random states


def _loader_generators(loader) -> list[torch.Generator]:
    """The torch.Generators that decide a DataLoader's shuffling (deduplicated)."""
    owners = (
        loader,
        getattr(loader, "sampler", None),
        getattr(loader, "batch_sampler", None),
        getattr(getattr(loader, "batch_sampler", None), "sampler", None),
    )
    found = []
    for owner in owners:
        g = getattr(owner, "generator", None)
        if isinstance(g, torch.Generator) and all(g is not h for h in found):
            found.append(g)
    return found


def rng_state(loader) -> dict:
    """Every random state a training run draws from, as tensors and plain values.

    Parameters
    ----------
    loader : DataLoader
        Its shuffling generator(s) are included.

    Returns
    -------
    dict with ``python``, ``numpy``, ``torch``, ``cuda`` and ``loader`` entries (storable with
    ``torch.save(weights_only=True)``).
    """
    np_state = np.random.get_state()  # noqa: NPY002 - the global generator seed_everything seeds
    return {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": [g.get_state() for g in _loader_generators(loader)],
    }


def set_rng_state(state: dict, loader) -> None:
    """Restore the random states saved by :func:`rng_state` (``loader`` built the same way)."""
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            "MT19937",
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    generators = _loader_generators(loader)
    if len(generators) != len(state["loader"]):
        raise ValueError(
            f"train_loader has {len(generators)} random generator(s) but the checkpoint saved "
            f"{len(state['loader'])}; resume with a loader built the same way"
        )
    for g, s in zip(generators, state["loader"], strict=True):
        g.set_state(s)


def _as_tuple(x):
    # torch.load gives lists back where random.getstate() had tuples.
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


# --------------------------------------------------------------------------- training state


def pack_state(state: TrainState, *, scaler, callbacks: list[Callback], loader) -> dict:
    """Everything :func:`~cnncourse.train.fit` needs to continue after ``state.epoch``.

    Model, optimizer, scheduler and loss-scaler state, each callback's ``state_dict``, the
    history so far and all random states (see :func:`rng_state`; under torchrun a list with
    every process's, gathered from all of them: every process must call this).
    """
    rng = rng_state(loader)
    scheduler = state.scheduler
    return {
        "format": FORMAT,
        "epoch": state.epoch,
        "stopped": state.stop,
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "callbacks": [cb.state_dict() if hasattr(cb, "state_dict") else None for cb in callbacks],
        "history": state.history.rows,
        "batch_loss": state.history.batch_loss,
        "rng": distributed.gather(rng) if distributed.active() else rng,
    }


def restore_state(
    saved: dict, state: TrainState, *, scaler, callbacks: list[Callback], loader
) -> None:
    """Load a :func:`pack_state` dict back into ``state``'s objects, the callbacks and the RNGs.

    Afterwards ``state.epoch`` is the last finished epoch and ``state.stop`` what it was then.
    """
    state.model.load_state_dict(saved["model"])
    state.optimizer.load_state_dict(saved["optimizer"])
    if state.scheduler is not None:
        if saved["scheduler"] is None:
            raise ValueError("the checkpoint was saved without a scheduler; pass scheduler=None")
        state.scheduler.load_state_dict(saved["scheduler"])
    if scaler is not None and saved.get("scaler"):
        scaler.load_state_dict(saved["scaler"])
    for cb, cb_state in zip(callbacks, saved["callbacks"], strict=False):
        if hasattr(cb, "load_state_dict") and cb_state is not None:
            cb.load_state_dict(cb_state)
    state.history.rows = [dict(r) for r in saved["history"]]
    state.history.batch_loss = list(saved.get("batch_loss", []))
    set_rng_state(_own_rng(saved["rng"]), loader)
    state.epoch, state.stop = saved["epoch"], saved["stopped"]


def _own_rng(saved) -> dict:
    """This process's entry of the saved random states (a list of one per process under
    torchrun, a dict otherwise)."""
    if isinstance(saved, dict):
        if distributed.world_size() > 1:
            raise ValueError(
                "the checkpoint was written by a single process; resume it with one process "
                f"(not {distributed.world_size()}), or start a new run"
            )
        return saved
    if len(saved) != distributed.world_size():
        raise ValueError(
            f"the checkpoint was written by {len(saved)} processes; resume it with "
            f"--nproc_per_node/--nnodes giving {len(saved)} processes, not "
            f"{distributed.world_size()}"
        )
    return saved[distributed.rank()]
