"""Where a run happens and how long it may take: device, budget profile, seeding, precision.

- :data:`PROFILES`, :func:`profile`: ``quick`` (CPU-sized), ``full`` (GPU-sized) or ``auto``.
- :data:`BUDGETS`, :func:`budget`: the one table that turns a profile into epochs.
- :func:`device`: CUDA, then Apple MPS, then CPU.
- :func:`seed_everything`: Python, NumPy and PyTorch seeded at once.
- :func:`select_amp`: mixed precision and memory format for a device.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

from .._validate import check_bool, check_choice, check_int

PROFILES = ("quick", "full", "auto")

# The one place where a profile turns into a training budget (epochs). Chapter 6 and the CLI
# read it through budget(); training cells print the entry they use. 'quick' is sized for CI on
# 2 CPU cores, 'full' for a GPU (and downloaded data).
BUDGETS: dict[str, dict[str, int]] = {
    "quick": {
        "mnist_bundled": 20,  # LeNet-5 on the 8,000 bundled digits: the chapter's real run
        "mnist": 3,
        "fashion_mnist": 3,
        "cifar10": 3,
        "optimizers": 3,  # chapter 6 side experiments, small on purpose
        "overfitting": 40,
        "transfer_pretrain": 3,
        "transfer_finetune": 30,
    },
    "full": {
        "mnist_bundled": 30,
        "mnist": 15,  # full MNIST, 60,000 training digits
        "fashion_mnist": 30,
        "cifar10": 60,  # ResNet-20 on CIFAR-10 with a one-cycle schedule
        "optimizers": 10,
        "overfitting": 100,
        "transfer_pretrain": 10,
        "transfer_finetune": 60,
    },
}


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


def budget(key: str, profile_name: str | None = None) -> int:
    """Epoch budget ``BUDGETS[profile(profile_name)][key]``.

    Parameters
    ----------
    key : str
        A dataset name (``'mnist_bundled'``, ``'mnist'``, ``'fashion_mnist'``, ``'cifar10'``) or
        a chapter-6 experiment (``'optimizers'``, ``'overfitting'``, ``'transfer_pretrain'``,
        ``'transfer_finetune'``).
    profile_name : str, optional
        As in :func:`profile` (default: the environment's profile).
    """
    budgets = BUDGETS[profile(profile_name)]
    check_choice("key", key, tuple(budgets))
    return budgets[key]


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so runs repeat exactly on CPU."""
    seed = check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global generator is what we seed
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def select_amp(
    device: torch.device | str,
    amp: bool | None = None,
    channels_last: bool | None = None,
    bf16_supported: bool | None = None,
) -> dict[str, Any]:
    """Decide mixed precision and memory format for a device.

    Parameters
    ----------
    device : torch.device or str
    amp : bool, optional
        ``None`` (default): on for CUDA, off elsewhere. ``True`` on a non-CUDA device is an error
        (CPU autocast exists but is slower than float32 for these small models).
    channels_last : bool, optional
        ``None`` (default): on for CUDA (tensor cores want NHWC), off elsewhere; ``True`` or
        ``False`` is honoured on any device.
    bf16_supported : bool, optional
        Whether the GPU has bfloat16 (default: ask ``torch.cuda.is_bf16_supported()``). Only
        consulted when AMP is on; exposed so the choice can be tested without a GPU.

    Returns
    -------
    dict with ``amp`` (bool), ``dtype`` (``torch.bfloat16``, ``torch.float16`` or ``None``),
    ``grad_scaler`` (bool: float16 needs loss scaling, bfloat16 does not) and ``channels_last``.
    """
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    # None means "choose for this device"; anything else must be a real bool.
    amp = cuda if amp is None else check_bool("amp", amp)
    channels_last = cuda if channels_last is None else check_bool("channels_last", channels_last)
    if amp and not cuda:
        raise ValueError(f"amp=True needs a CUDA device, got device={dev.type!r}; use amp=None")
    dtype = None
    if amp:
        if bf16_supported is None:
            bf16_supported = bool(torch.cuda.is_bf16_supported())
        dtype = torch.bfloat16 if bf16_supported else torch.float16
    return {
        "amp": amp,
        "dtype": dtype,
        "grad_scaler": dtype == torch.float16,
        "channels_last": channels_last,
    }
