"""Trained models for the explorers: the chapter's own checkpoint, else a small bundled reference.

A widget cell must work on its own after a kernel restart, in seconds, without retraining.
:func:`trained_model` gives it a model: the checkpoint a student trained with the command line
(in ``runs/``) when there is one, else a reference checkpoint shipped in ``cnncourse/_data``,
whose SHA-256 is checked against :data:`REFERENCES` before it is loaded.

Reproduce a reference (or write the same model into ``runs/`` for a chapter) with one command:

``python -m cnncourse.train.reference NAME [--out DIR]``

with NAME one of :data:`REFERENCES`. It trains on one CPU thread, so the weights (and the file's
hash) repeat on the same machine and library versions; it prints the SHA-256 to compare with
:data:`REFERENCES`. Provenance: ``DATA.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .._files import sha256_file
from .._validate import check_choice
from .checkpoint import load_checkpoint, save_checkpoint

DATA_DIR = Path(__file__).resolve().parent.parent / "_data"
DETECTOR_EPOCHS = 8  # chapter 8's quick budget


@dataclass(frozen=True)
class Reference:
    """One bundled checkpoint: its file in ``cnncourse/_data``, hash and what it holds."""

    file: str
    sha256: str
    description: str


REFERENCES: dict[str, Reference] = {
    "lenet5_modern_mnist_bundled": Reference(
        "lenet5_modern_mnist_bundled.pt",
        "6dcafbc874f3d41b8a9a206c7d31820160535ece8add5d7008051d6ee91a5594",
        "LeNet-5 (modern) trained by `python -m cnncourse.train lenet5_modern --data "
        "mnist_bundled` (quick profile: chapter 6's budget), chapter 7's model",
    ),
    "tinydetector_canvases": Reference(
        "tinydetector_canvases.pt",
        "772de6a542e8cae463551d614833b4dc22cc6fca6f1284d70e79d331ddddc119",
        "detect.TinyDetector trained with chapter 8's recipe (AdamW, one-cycle, quick budget) "
        "on canvases.make_canvases(4000, 'train', seed=0)",
    ),
}


def bundled_path(name: str) -> Path:
    """The bundled file of reference ``name`` (see :data:`REFERENCES`)."""
    check_choice("name", name, tuple(REFERENCES))
    return DATA_DIR / REFERENCES[name].file


def _build(saved: dict) -> nn.Module:
    if saved["model_name"] == "tinydetector":
        from ..detect import TinyDetector

        model = TinyDetector(**saved.get("kwargs", {}))
    else:
        from .recipe import build_model

        model = build_model(saved["model_name"], saved["dataset"])
    model.load_state_dict(saved["model"])
    return model.eval()


def load_bundled(name: str) -> nn.Module:
    """The bundled reference model ``name``, in eval mode on the CPU, after checking its SHA-256.

    Raises ``cnncourse.data.ChecksumError`` when the file does not match :data:`REFERENCES`.
    """
    from ..data import verify_sha256

    path = bundled_path(name)
    verify_sha256(path, REFERENCES[name].sha256)
    return _build(torch.load(path, map_location="cpu", weights_only=True))


def trained_model(
    name: str, runs: str | os.PathLike = Path("..") / "runs"
) -> tuple[nn.Module, str]:
    """The model ``name`` from ``runs/<name>.pt`` when it exists, else the bundled reference.

    Parameters
    ----------
    name : one of :data:`REFERENCES` (the stem the command line writes into ``runs/``)
    runs : the folder of the student's checkpoints; the default ``../runs`` is the repository's
        ``runs/`` seen from ``chapters/`` or ``my-work/``

    Returns
    -------
    (model, source) : the model in eval mode on the CPU, and a sentence saying where it came
        from (for the cell to print).
    """
    check_choice("name", name, tuple(REFERENCES))
    own = Path(runs) / f"{name}.pt"
    if own.exists():
        return _build(load_checkpoint(own)), f"loaded {own} (your own trained checkpoint)"
    model = load_bundled(name)
    return model, (
        f"no checkpoint at {own}: using the bundled reference {REFERENCES[name].file} "
        f"(SHA-256 checked); to train your own, run `python -m cnncourse.train.reference {name} "
        "--out runs` in the course folder"
    )


def train_detector(epochs: int, seed: int = 0, device: torch.device | None = None) -> nn.Module:
    """Chapter 8's detector recipe: TinyDetector, AdamW 3e-3, one-cycle, batch 32, 4,000 canvases."""
    from .. import canvases
    from ..detect import TinyDetector
    from .loop import fit
    from .profiles import seed_everything

    seed_everything(seed)
    train_set = canvases.make_canvases(4000, "train", seed=0)
    loader = torch.utils.data.DataLoader(
        canvases.CanvasDataset(train_set),
        batch_size=32,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        collate_fn=canvases.collate_detection,
    )
    model = TinyDetector()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=3e-3, total_steps=epochs * len(loader), pct_start=0.2
    )
    fit(
        model,
        loader,
        epochs=epochs,
        optimizer=optimizer,
        scheduler=scheduler,
        loss_fn=model.loss_fn((64, 64)),
        device=device,
        live_plot=False,
    )
    return model.cpu().eval()


def build(name: str, out: str | os.PathLike) -> Path:
    """Train reference ``name`` on one CPU thread and write ``out/<name>.pt`` (+ ``.sha256``).

    Into ``cnncourse/_data`` only the ``.pt`` is kept (its hash is in :data:`REFERENCES`); into
    another folder (``runs``) the checkpoint keeps the SHA-256 sidecar ``load_checkpoint`` checks.
    """
    check_choice("name", name, tuple(REFERENCES))
    out = Path(out)
    # one thread: float sums in a fixed order, the same weights on every run
    saved = os.environ.get("CNNCOURSE_THREADS"), torch.get_num_threads()
    os.environ["CNNCOURSE_THREADS"] = "1"
    torch.set_num_threads(1)
    try:
        path = _train_and_save(name, out)
    finally:
        if saved[0] is None:
            os.environ.pop("CNNCOURSE_THREADS", None)
        else:
            os.environ["CNNCOURSE_THREADS"] = saved[0]
        torch.set_num_threads(saved[1])
    if out.resolve() == DATA_DIR.resolve():
        for extra in (f"{name}.pt.sha256", f"{name}_history.json"):
            (out / extra).unlink(missing_ok=True)
    return path


def _train_and_save(name: str, out: Path) -> Path:
    if name == "lenet5_modern_mnist_bundled":
        from . import main as train_main

        code = train_main(
            ["lenet5_modern", "--data", "mnist_bundled", "--profile", "quick", "--out", str(out)]
        )
        if code:
            raise RuntimeError(f"training {name} failed with exit code {code}")
        (out / f"{name}_last.pt").unlink(missing_ok=True)  # the resume state is not needed
        (out / f"{name}_last.pt.sha256").unlink(missing_ok=True)
        return out / f"{name}.pt"
    model = train_detector(DETECTOR_EPOCHS, device=torch.device("cpu"))
    return save_checkpoint(
        out / f"{name}.pt",
        {
            "model": model.state_dict(),
            "model_name": "tinydetector",
            "kwargs": {},
            "epochs": DETECTOR_EPOCHS,
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnncourse.train.reference",
        description="Train a reference model of the course and write it into --out.",
    )
    parser.add_argument("name", choices=tuple(REFERENCES))
    parser.add_argument("--out", default=str(DATA_DIR), help="folder (default: cnncourse/_data)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    path = build(args.name, args.out)
    digest = sha256_file(path)
    print(
        f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB) in {time.perf_counter() - start:.0f} s"
    )
    print(f"sha256 {digest} (REFERENCES says {REFERENCES[args.name].sha256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
