"""Device and profile selection, seeding (and, in chapter 6, the training loop).

The course runs the same code everywhere; only the *budget* changes with the profile:

- ``quick``: CPU-sized budgets (what CI and a laptop run),
- ``full``: GPU-sized budgets,
- ``auto`` (default): ``full`` when CUDA is available, else ``quick``.

Set the profile with the environment variable ``CNNCOURSE_PROFILE``.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

PROFILES = ("quick", "full", "auto")


def device() -> torch.device:
    """The best available device: CUDA, then Apple MPS, then CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def profile(name: str | None = None) -> str:
    """Resolve the budget profile to ``'quick'`` or ``'full'``.

    Parameters
    ----------
    name : str, optional
        ``'quick'``, ``'full'`` or ``'auto'``. Defaults to ``$CNNCOURSE_PROFILE``, else ``'auto'``.

    Returns
    -------
    str
        ``'quick'`` or ``'full'``; ``'auto'`` resolves to ``'full'`` only when CUDA is available.
    """
    source = "profile"
    if name is None:
        name, source = os.environ.get("CNNCOURSE_PROFILE", "auto"), "CNNCOURSE_PROFILE"
    value = str(name).strip().lower()
    if value not in PROFILES:
        raise ValueError(f"{source} must be one of {', '.join(PROFILES)}; got {name!r}")
    if value == "auto":
        return "full" if torch.cuda.is_available() else "quick"
    return value


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so runs repeat exactly on CPU."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
