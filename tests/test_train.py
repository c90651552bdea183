"""cnncourse.train: the training loop, checkpoints and resume, AMP selection, evaluation, CLI."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ddp_worker import tiny_data  # the same three-class 8x8 images as the DDP tests
from torch import nn

from cnncourse import _files, data, datasets, metrics, train, transforms, viz

# --------------------------------------------------------------------------- a tiny problem


def tiny_model():
    # BatchNorm (running statistics) and Dropout (random masks) make resume non-trivial.
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(0.2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 3),
    )


def tiny_setup(seed=0, epochs=4, augment=True):
    train.seed_everything(seed)
    x, y = tiny_data(96)
    aug = (
        transforms.Compose(
            [transforms.RandomAffine(10, (0.1, 0.1)), transforms.RandomErasing(p=0.5)]
        )
        if augment
        else None
    )
    train_set = datasets.ImageDataset(x[:64], y[:64], transform=aug, mean=(0.3,), std=(0.3,))
    val_set = datasets.ImageDataset(x[64:], y[64:], mean=(0.3,), std=(0.3,))
    model = tiny_model()
    train_loader = datasets.make_loader(train_set, batch_size=16, shuffle=True, seed=7)
    val_loader = datasets.make_loader(val_set, batch_size=16)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.2, total_steps=epochs * len(train_loader)
    )
    return model, train_loader, val_loader, opt, sched


QUIET = {"progress": False, "verbose": False, "live_plot": False, "device": "cpu"}


class RecordingPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    """ReduceLROnPlateau that records the metric fit() gives it at every step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def step(self, metrics):
        self.seen.append(metrics)
        super().step(metrics)


# --------------------------------------------------------------------------- fit


def test_fit_reduces_the_loss_and_records_every_column():
    model, tl, vl, opt, sched = tiny_setup(epochs=6)
    h = train.fit(model, tl, vl, epochs=6, optimizer=opt, scheduler=sched, **QUIET)
    assert len(h) == 6 and h["epoch"] == [1, 2, 3, 4, 5, 6]
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
    assert h["val_loss"][-1] < h["val_loss"][0]
    assert h["val_accuracy"][-1] >= 0.9
    assert all(t > 0 for t in h["time"]) and all(r > 0 for r in h["throughput"])
    # One-cycle ends near zero learning rate.
    assert h["lr"][-1] < 0.01 * max(h["lr"])
    # val numbers are exactly what evaluate() computes on the final model.
    scores = train.evaluate(model, vl)
    assert scores["loss"] == pytest.approx(h["val_loss"][-1])
    assert scores["accuracy"] == pytest.approx(h["val_accuracy"][-1])


def test_fit_defaults_to_adamw_and_works_without_validation():
    train.seed_everything(0)
    model, tl, *_ = tiny_setup(augment=False)
    h = train.fit(model, tl, epochs=3, **QUIET)
    assert h["val_loss"] == [None] * 3
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert h["lr"] == [1e-3] * 3


def test_epoch_scheduler_steps_once_per_epoch():
    model, tl, vl, *_ = tiny_setup(augment=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = train.fit(model, tl, vl, epochs=3, optimizer=opt, scheduler=sched, **QUIET)
    np.testing.assert_allclose(h["lr"], [0.1, 0.05, 0.025])  # the rate each epoch used

    plateau_opt = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = RecordingPlateau(plateau_opt, patience=0, factor=0.5)
    h2 = train.fit(model, tl, vl, epochs=2, optimizer=plateau_opt, scheduler=plateau, **QUIET)
    assert plateau.seen == h2["val_loss"]  # ReduceLROnPlateau watches the validation loss


def test_batch_losses_are_recorded_on_request_and_survive_resume(tmp_path):
    model, tl, *_ = tiny_setup(augment=False)
    h = train.fit(
        model, tl, epochs=2, record_batch_loss=True, checkpoint=tmp_path / "c.pt", **QUIET
    )
    assert len(h.batch_loss) == 2 * len(tl)
    # The epoch loss is the sample-weighted mean of its batch losses (equal batches here).
    assert np.mean(h.batch_loss[: len(tl)]) == pytest.approx(h["train_loss"][0], rel=1e-6)
    assert train.History.load(h.save(tmp_path / "h.json")).batch_loss == h.batch_loss
    model2, tl2, *_ = tiny_setup(augment=False)
    h2 = train.fit(
        model2,
        tl2,
        epochs=3,
        record_batch_loss=True,
        checkpoint=tmp_path / "c.pt",
        resume=True,
        **QUIET,
    )
    assert len(h2.batch_loss) == 3 * len(tl) and h2.batch_loss[:8] == h.batch_loss
    model3, tl3, *_ = tiny_setup(augment=False)
    assert train.fit(model3, tl3, epochs=1, **QUIET).batch_loss == []


def test_train_classifier_rejects_bad_arguments():
    model = nn.Linear(1, 1)
    with pytest.raises(ValueError, match="data_name must be one of"):
        train.train_classifier(model, "svhn", epochs=1)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        train.train_classifier(model, "mnist_bundled", epochs=0)
    with pytest.raises(ValueError, match="lr must be"):
        train.train_classifier(model, "mnist_bundled", epochs=1, lr=float("inf"))
    with pytest.raises(ValueError, match="weight_decay"):
        train.train_classifier(model, "mnist_bundled", epochs=1, weight_decay=-1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        # 0 is an error, not a request for the default: only None means "the dataset's default".
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
        ({"lr": 0}, ValueError, "lr must be a finite number > 0, got 0.0"),
        ({"lr": 0.0}, ValueError, "lr must be a finite number > 0, got 0.0"),
        ({"lr": -0.1}, ValueError, "lr must be a finite number > 0, got -0.1"),
        ({"epochs": -2}, ValueError, "epochs must be >= 1, got -2"),
        ({"batch_size": 32.0}, TypeError, "batch_size must be an integer, got 32.0"),
        ({"seed": -1}, ValueError, "seed must be >= 0, got -1"),
        ({"num_workers": -1}, ValueError, "num_workers must be >= 0, got -1"),
        ({"augment": "yes"}, TypeError, "augment must be True or False, got 'yes'"),
        ({"weight_decay": float("nan")}, ValueError, "weight_decay must be a finite number"),
    ],
)
def test_train_classifier_rejects_zero_instead_of_using_the_default(
    kwargs, error, message, monkeypatch
):
    def unreachable(*args, **kw):
        raise AssertionError("validation must fail before any data is loaded")

    monkeypatch.setattr(datasets, "load", unreachable)
    with pytest.raises(error, match=re.escape(message)):
        train.train_classifier(nn.Linear(1, 1), "mnist_bundled", **{"epochs": 1, **kwargs})


def test_train_classifier_uses_the_recipe_defaults_only_for_none(monkeypatch):
    seen = {}

    def fake_fit(model, loader, *, epochs, optimizer, scheduler, **kwargs):
        seen["batch_size"], seen["lr"] = loader.batch_size, optimizer.defaults["lr"]
        return train.History()

    monkeypatch.setattr(train.recipe, "fit", fake_fit)
    monkeypatch.setattr(train.recipe, "evaluate", lambda model, loader: {"accuracy": None})
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    train.train_classifier(model, "mnist_bundled", epochs=1, augment=False)
    assert seen == train.RECIPE_DEFAULTS["mnist_bundled"]
    train.train_classifier(model, "mnist_bundled", epochs=1, batch_size=7, lr=0.5, augment=False)
    assert seen == {"batch_size": 7, "lr": 0.5}


def test_non_finite_loss_raises_a_clear_error():
    model, tl, *_ = tiny_setup(augment=False)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train.fit(model, tl, epochs=1, loss_fn=lambda out, y: out.sum() * float("nan"), **QUIET)


def test_grad_clip_bounds_the_update():
    model, tl, *_ = tiny_setup(augment=False)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    # One batch, loss scaled up enormously: with clipping, one SGD step moves the
    # parameters by at most lr * max_norm in total.
    one_batch = [next(iter(tl))]
    train.fit(
        model,
        one_batch,
        epochs=1,
        optimizer=opt,
        grad_clip=0.01,
        loss_fn=lambda o, y: 1e6 * F.cross_entropy(o, y),
        **QUIET,
    )
    moved = torch.sqrt(
        sum(((p - b) ** 2).sum() for p, b in zip(model.parameters(), before, strict=True))
    )
    assert float(moved.detach()) <= 0.01 + 1e-6


def test_progress_bar_restarts_each_epoch_and_log_lines_go_to_stdout(capsys):
    made = []
    import tqdm.auto

    real = tqdm.auto.tqdm

    def counting(*args, **kwargs):
        made.append(kwargs)
        return real(*args, **kwargs)

    monkey = pytest.MonkeyPatch()
    monkey.setattr(tqdm.auto, "tqdm", counting)
    try:
        model, tl, *_ = tiny_setup(augment=False)
        train.fit(model, tl, epochs=3, progress=True, verbose=True, live_plot=False, device="cpu")
    finally:
        monkey.undo()
    out, err = capsys.readouterr()
    assert len(made) == 1  # one bar, reset for every epoch
    assert "epoch 3/3" in err and f"{len(tl)}/{len(tl)}" in err
    assert [line.split()[1] for line in out.splitlines()] == ["1/3", "2/3", "3/3"]


def test_non_classification_outputs_have_no_accuracy():
    train.seed_everything(0)
    x = torch.randn(32, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    h = train.fit(
        nn.Linear(3, 1), loader, loader, epochs=3, loss_fn=F.mse_loss, optimizer=None, **QUIET
    )
    assert h["train_accuracy"] == [None] * 3 and h["val_accuracy"] == [None] * 3
    assert h["val_loss"][-1] < h["val_loss"][0]


def test_channels_last_is_applied_when_asked():
    model, tl, *_ = tiny_setup(augment=False)
    train.fit(model, tl, epochs=1, channels_last=True, **QUIET)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    model2, tl2, *_ = tiny_setup(augment=False)
    train.fit(model2, tl2, epochs=1, **QUIET)  # default on CPU: plain NCHW
    assert model2[0].weight.is_contiguous()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"epochs": 0}, ValueError, "epochs must be >= 1, got 0"),
        ({"epochs": 1.5}, TypeError, "epochs must be an integer, got 1.5 (float)"),
        ({"epochs": 1, "resume": True}, ValueError, "resume=True needs a checkpoint path"),
        (
            {"epochs": 1, "grad_clip": -1.0},
            ValueError,
            "grad_clip must be a finite number > 0, got -1.0",
        ),
        (
            {"epochs": 1, "callbacks": [1]},
            TypeError,
            "callbacks[0] must have an on_epoch_end method, got 1",
        ),
        (
            {"epochs": 1, "amp": True},
            ValueError,
            "amp=True needs a CUDA device, got device='cpu'; use amp=None",
        ),
        (
            {"epochs": 1, "scheduler_interval": "step"},
            ValueError,
            "scheduler_interval must be one of 'auto', 'batch', 'epoch'; got 'step'",
        ),
        (
            {"epochs": 1, "grad_clip": True},
            TypeError,
            "grad_clip must be a real number, got True (bool)",
        ),
        ({"epochs": 1, "progress": 1}, TypeError, "progress must be True or False, got 1 (int)"),
        (
            {"epochs": 1, "live_plot": "no"},
            TypeError,
            "live_plot must be True or False, got 'no' (str)",
        ),
        (
            {"epochs": 1, "channels_last": "no"},
            TypeError,
            "channels_last must be True or False, got 'no' (str)",
        ),
        (
            {"epochs": 1, "resume": "yes", "checkpoint": "unused.pt"},
            TypeError,
            "resume must be True or False, got 'yes' (str)",
        ),
        (
            {"epochs": 1, "val_loader": []},
            ValueError,
            "val_loader has no batches (empty dataset, or drop_last with a big batch)",
        ),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, error, message):
    model, tl, *_ = tiny_setup(augment=False)
    args = {**QUIET, **kwargs}
    with pytest.raises(error) as err:
        train.fit(model, tl, **args)
    assert str(err.value) == message


def test_fit_rejects_bad_models_and_loaders():
    model, tl, *_ = tiny_setup(augment=False)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        train.fit(lambda x: x, tl, epochs=1, **QUIET)
    with pytest.raises(ValueError, match="train_loader has no batches"):
        train.fit(model, [], epochs=1, **QUIET)
    with pytest.raises(TypeError, match="val_loader"):
        train.fit(model, tl, 3, epochs=1, **QUIET)
    with pytest.raises(ValueError, match=r"pair \(inputs, targets\)"):
        train.fit(model, [torch.zeros(2, 1, 8, 8)], epochs=1, **QUIET)


# --------------------------------------------------------------------------- resume


class Interrupt(Exception):
    pass


def _interrupting_loss(after_calls):
    calls = {"n": 0}

    def loss(out, y):
        calls["n"] += 1
        if calls["n"] > after_calls:
            raise Interrupt
        return F.cross_entropy(out, y)

    return loss


def test_interrupted_and_resumed_run_equals_uninterrupted_run(tmp_path):
    epochs = 5
    model, tl, vl, opt, sched = tiny_setup(seed=0, epochs=epochs)
    stopper = train.EarlyStopping(patience=50, restore_best=False)
    full = train.fit(
        model, tl, vl, epochs=epochs, optimizer=opt, scheduler=sched, callbacks=[stopper], **QUIET
    )
    reference = {k: v.clone() for k, v in model.state_dict().items()}
    reference_opt = opt.state_dict()

    # Run again, killed in the middle of epoch 3: every epoch calls the loss 4 times in training
    # and 2 times in validation, so call 14 is the second training batch of epoch 3.
    ckpt = tmp_path / "run.pt"
    model, tl, vl, opt, sched = tiny_setup(seed=0, epochs=epochs)
    with pytest.raises(Interrupt):
        train.fit(
            model,
            tl,
            vl,
            epochs=epochs,
            optimizer=opt,
            scheduler=sched,
            checkpoint=ckpt,
            loss_fn=_interrupting_loss(13),
            callbacks=[train.EarlyStopping(patience=50, restore_best=False)],
            **QUIET,
        )
    assert train.load_checkpoint(ckpt)["epoch"] == 2

    # A fresh process would start with other random states: scramble them all before resuming.
    model, tl, vl, opt, sched = tiny_setup(seed=123, epochs=epochs)
    for _ in range(3):
        next(iter(tl))
    stopper2 = train.EarlyStopping(patience=50, restore_best=False)
    resumed = train.fit(
        model,
        tl,
        vl,
        epochs=epochs,
        optimizer=opt,
        scheduler=sched,
        checkpoint=ckpt,
        resume=True,
        callbacks=[stopper2],
        **QUIET,
    )
    for name, value in model.state_dict().items():
        assert torch.equal(value, reference[name]), name
    for a, b in zip(
        opt.state_dict()["state"].values(), reference_opt["state"].values(), strict=True
    ):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
        assert resumed[key] == full[key], key
    assert (stopper2.best, stopper2.best_epoch) == (stopper.best, stopper.best_epoch)


def test_resume_after_the_last_epoch_trains_nothing(tmp_path):
    ckpt = tmp_path / "done.pt"
    model, tl, vl, opt, sched = tiny_setup(epochs=2)
    train.fit(model, tl, epochs=2, optimizer=opt, scheduler=sched, checkpoint=ckpt, **QUIET)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    model2, tl2, _, opt2, sched2 = tiny_setup(seed=5, epochs=2)
    h = train.fit(
        model2,
        tl2,
        epochs=2,
        optimizer=opt2,
        scheduler=sched2,
        checkpoint=ckpt,
        resume=True,
        **QUIET,
    )
    assert len(h) == 2
    for k, v in model2.state_dict().items():
        assert torch.equal(v, weights[k])


def test_resume_without_a_checkpoint_file_starts_fresh(tmp_path):
    model, tl, *_ = tiny_setup(augment=False)
    h = train.fit(model, tl, epochs=1, checkpoint=tmp_path / "new.pt", resume=True, **QUIET)
    assert len(h) == 1 and (tmp_path / "new.pt").exists()


# --------------------------------------------------------------------------- checkpoint files


def test_checkpoint_has_a_verified_sha256_sidecar(tmp_path):
    path = train.save_checkpoint(tmp_path / "a.pt", {"w": torch.arange(5), "epoch": 3})
    side = tmp_path / "a.pt.sha256"
    digest, name = side.read_text().split()
    assert digest == data.sha256_file(path) and name == "a.pt"
    assert train.load_checkpoint(path)["epoch"] == 3
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(data.ChecksumError, match="corrupt"):
        train.load_checkpoint(path)
    side.unlink()
    with pytest.raises(FileNotFoundError, match="sidecar"):
        train.load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train.load_checkpoint(tmp_path / "missing.pt")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = train.save_checkpoint(tmp_path / "b.pt", {"v": 1})
    before = path.read_bytes()

    def failing(f):
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _files.atomic_write(path, failing)

    def rejecting(tmp):
        assert tmp.read_bytes() == b"new" and tmp != path
        raise data.ChecksumError("wrong bytes")

    # A failing check (a download's checksum) also leaves the old file and no temporary file.
    with pytest.raises(data.ChecksumError, match="wrong bytes"):
        _files.atomic_write(path, lambda f: f.write(b"new"), check=rejecting)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.pt", "b.pt.sha256"]  # no temp files
    assert train.load_checkpoint(path)["v"] == 1
    _files.atomic_write(path, lambda f: f.write(b"new"), check=lambda tmp: None)
    assert path.read_bytes() == b"new" and (path.stat().st_mode & 0o777) == 0o644


def test_checkpoint_rng_states_round_trip(tmp_path):
    loader = datasets.make_loader(datasets.ImageDataset(*tiny_data(96)), 8, shuffle=True, seed=1)
    train.seed_everything(3)
    state = train.checkpoint.rng_state(loader)
    train.save_checkpoint(tmp_path / "rng.pt", {"rng": state})
    expected = (np.random.random(), torch.rand(2), next(iter(loader))[1])  # noqa: NPY002
    train.seed_everything(99)
    next(iter(loader))
    train.checkpoint.set_rng_state(train.load_checkpoint(tmp_path / "rng.pt")["rng"], loader)
    got = (np.random.random(), torch.rand(2), next(iter(loader))[1])  # noqa: NPY002
    assert got[0] == expected[0]
    assert torch.equal(got[1], expected[1]) and torch.equal(got[2], expected[2])


# --------------------------------------------------------------------------- callbacks


def _state_with(values, monitor="val_loss"):
    model = nn.Linear(1, 1)
    state = train.TrainState(model, None, None, train.History(), epochs=len(values))
    return state, model


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    stopper = train.EarlyStopping(monitor="val_loss", patience=2)
    values = [3.0, 2.0, 2.5, 2.6, 2.7]
    state, model = _state_with(values)
    for epoch, v in enumerate(values, 1):
        nn.init.constant_(model.weight, float(epoch))
        state.epoch = epoch
        state.history.append({"epoch": epoch, "val_loss": v})
        stopper.on_epoch_end(state)
        if state.stop:
            break
    assert state.epoch == 4 and stopper.best_epoch == 2 and stopper.stopped_epoch == 4
    stopper.on_train_end(state)
    assert float(model.weight.detach()) == 2.0  # weights of epoch 2
    maxer = train.EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.01)
    state, _ = _state_with([0.5, 0.505])
    for epoch, v in enumerate([0.5, 0.505], 1):
        state.epoch = epoch
        state.history.append({"epoch": epoch, "val_accuracy": v})
        maxer.on_epoch_end(state)
    assert maxer.mode == "max" and state.stop  # +0.005 is below min_delta


def test_early_stopping_inside_fit_and_best_checkpoint(tmp_path):
    _, tl, vl, *_ = tiny_setup(augment=False)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # nothing changes: no improvement
    best = train.BestCheckpoint(tmp_path / "best.pt", monitor="val_accuracy")
    h = train.fit(
        model,
        tl,
        vl,
        epochs=10,
        optimizer=opt,
        callbacks=[train.EarlyStopping(patience=2), best],
        **QUIET,
    )
    assert len(h) == 3  # epoch 1 sets the best, epochs 2 and 3 do not improve
    saved = train.load_checkpoint(tmp_path / "best.pt")
    assert saved["epoch"] == 1 and saved["val_accuracy"] == h["val_accuracy"][0]
    with pytest.raises(ValueError, match="monitor 'val_loss' is not recorded"):
        train.fit(model, tl, epochs=1, callbacks=[train.EarlyStopping()], **QUIET)
    with pytest.raises(ValueError, match="patience"):
        train.EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="mode"):
        train.EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="min_delta"):
        train.BestCheckpoint(tmp_path / "x.pt", min_delta=-1)


# --------------------------------------------------------------------------- history


def test_history_columns_best_json_and_plot(tmp_path):
    h = train.History()
    for e, (loss, acc) in enumerate([(1.0, 0.5), (0.5, 0.8), (0.7, 0.8)], 1):
        h.append(
            {
                "epoch": e,
                "train_loss": loss,
                "train_accuracy": acc,
                "val_loss": loss,
                "val_accuracy": acc,
                "lr": 0.1,
                "time": 1.0,
                "throughput": 10.0,
            }
        )
    assert h.best("val_loss")["epoch"] == 2
    assert h.best("val_accuracy")["epoch"] == 2  # ties: the earliest epoch
    path = h.save(tmp_path / "h.json")
    assert json.loads(path.read_text())["rows"][0]["train_loss"] == 1.0
    assert train.History.load(path).rows == h.rows
    with pytest.raises(KeyError, match="no column 'f1'"):
        h["f1"]
    ax_loss, ax_acc = h.plot(title="run")
    assert [line.get_label() for line in ax_loss.lines] == ["train", "val"]
    np.testing.assert_allclose(ax_acc.lines[1].get_ydata(), [0.5, 0.8, 0.8])
    assert ax_loss.get_xlabel() == "epoch" and ax_acc.get_title() == "accuracy"
    plt.close("all")
    assert "3 epochs" in repr(h)
    # viz draws from plain rows too (the History keeps the data, viz the drawing).
    ax_loss, _ = viz.plot_history(h.rows, title="rows", total_epochs=5)
    assert ax_loss.get_xlim() == (0.5, 5.5) and len(ax_loss.lines) == 2
    plt.close("all")


def test_live_plot_updates_one_display_in_place(monkeypatch):
    calls = []

    class Handle:
        def update(self, obj):
            calls.append(("update", obj))

    def fake_display(obj, display_id=None):
        calls.append(("display", display_id))
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", fake_display)
    model, tl, vl, *_ = tiny_setup(augment=False)
    history = train.fit(
        model,
        tl,
        vl,
        epochs=3,
        progress=False,
        verbose=False,
        live_plot=True,
        device="cpu",
        title="tiny run",
    )
    # Shown once before the first epoch (empty axes), then replaced after each of the 3 epochs.
    assert [c[0] for c in calls] == ["display", "update", "update", "update"]
    assert calls[0][1] is True
    assert calls[-1][1].data[:8] == b"\x89PNG\r\n\x1a\n"

    # the last picture is the whole history under fit's title, on an x-axis fixed to 3 epochs
    # (drawn as often as fit drew it: tight_layout moves the axes a little on each redraw)
    def drawn(title, total_epochs):
        plot = train.history.LivePlot(title, total_epochs)
        return [plot.png(history) for _ in calls][-1]

    expected = drawn("tiny run", 3)
    assert calls[-1][1].data == expected
    assert drawn(None, 3) != expected
    assert drawn("tiny run", None) != expected
    assert not train.history.in_notebook()  # so live_plot=None is off under pytest


# --------------------------------------------------------------------------- evaluate / predict


def test_evaluate_and_predict_match_a_direct_computation():
    model, tl, vl, *_ = tiny_setup(augment=False)
    model.train()
    x, y = vl.dataset.tensors()
    model.eval()
    with torch.no_grad():
        logits = model(x)
    model.train()
    scores = train.evaluate(model, vl)
    assert model.training  # mode restored
    assert scores["n"] == 32
    assert scores["loss"] == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-6)
    assert scores["accuracy"] == pytest.approx(metrics.accuracy(y, logits))
    # Unequal batches (5, 5, ..., 2): the mean is weighted by batch size.
    uneven = train.evaluate(model, datasets.make_loader(vl.dataset, batch_size=5))
    assert uneven["loss"] == pytest.approx(scores["loss"], rel=1e-6)
    assert uneven["accuracy"] == scores["accuracy"] and uneven["n"] == 32
    for source in (vl, vl.dataset, x):
        torch.testing.assert_close(train.predict(model, source, batch_size=5), logits)
    with pytest.raises(TypeError, match="data must be"):
        train.predict(model, 3)
    with pytest.raises(ValueError, match="batch_size"):
        train.predict(model, x, batch_size=0)


# --------------------------------------------------------------------------- AMP selection


def test_amp_and_channels_last_only_on_cuda_by_default():
    cpu = train.select_amp("cpu")
    assert cpu == {"amp": False, "dtype": None, "grad_scaler": False, "channels_last": False}
    assert train.select_amp(torch.device("mps"))["amp"] is False
    cuda_bf16 = train.select_amp("cuda", bf16_supported=True)
    assert cuda_bf16 == {
        "amp": True,
        "dtype": torch.bfloat16,
        "grad_scaler": False,
        "channels_last": True,
    }
    cuda_fp16 = train.select_amp("cuda:0", bf16_supported=False)
    assert cuda_fp16["dtype"] == torch.float16 and cuda_fp16["grad_scaler"] is True
    off = train.select_amp("cuda", amp=False, channels_last=False)
    assert off == {"amp": False, "dtype": None, "grad_scaler": False, "channels_last": False}
    assert train.select_amp("cpu", channels_last=True)["channels_last"] is True
    with pytest.raises(ValueError, match="amp=True needs a CUDA device"):
        train.select_amp("cpu", amp=True)
    with pytest.raises(TypeError, match="amp must be"):
        train.select_amp("cpu", amp="yes")


# --------------------------------------------------------------------------- budgets


def test_budgets_come_from_one_table(monkeypatch):
    assert set(train.BUDGETS) == {"quick", "full"}
    assert set(train.BUDGETS["quick"]) == set(train.BUDGETS["full"])
    assert train.budget("mnist_bundled", "quick") == train.BUDGETS["quick"]["mnist_bundled"]
    monkeypatch.setenv("CNNCOURSE_PROFILE", "full")
    assert train.budget("cifar10") == train.BUDGETS["full"]["cifar10"]
    with pytest.raises(ValueError, match="key must be one of"):
        train.budget("imagenet", "quick")


def test_build_model_fits_each_dataset():
    for name in train.CLI_MODELS:
        for dataset, shape in (("mnist_bundled", (2, 1, 28, 28)), ("cifar10", (2, 3, 32, 32))):
            if name.startswith("lenet5_modern") and dataset == "cifar10":
                continue  # 28x28 layout
            out = train.build_model(name, dataset).eval()(torch.zeros(shape))
            assert out.shape == (2, 10), (name, dataset)
    with pytest.raises(ValueError, match="name must be one of"):
        train.build_model("vgg99", "mnist")


# --------------------------------------------------------------------------- command line


def _cli(*args, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CNNCOURSE_PROFILE": "quick"}
    return subprocess.run(
        [sys.executable, "-m", "cnncourse.train", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )


@pytest.mark.slow
def test_cli_trains_one_epoch_and_reports_test_accuracy(tmp_path):
    result = _cli(
        "lenet5_modern",
        "--data",
        "mnist_bundled",
        "--epochs",
        "1",
        "--out",
        "out",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "device=cpu profile=quick budget=1 epochs" in lines[0]
    assert sum(line.startswith("epoch ") for line in lines) == 1
    assert lines[-1].startswith("test_accuracy=")
    accuracy = float(lines[-1].split("=")[1])
    assert 0.8 < accuracy <= 1.0  # one epoch of LeNet on 8,000 digits
    out = tmp_path / "out"
    history = json.loads((out / "lenet5_modern_mnist_bundled_history.json").read_text())
    assert len(history["rows"]) == 1
    model = train.load_trained(out / "lenet5_modern_mnist_bundled.pt")
    _, test = datasets.load("mnist_bundled")
    assert train.evaluate(model, datasets.make_loader(test, 500))["accuracy"] == pytest.approx(
        accuracy, abs=1e-4
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["resnet9000", "--data", "mnist_bundled", "--epochs", "1"],
            "invalid choice: 'resnet9000'",
        ),
        (["lenet5_modern", "--data", "imagenet", "--epochs", "1"], "invalid choice: 'imagenet'"),
        (
            ["lenet5_modern", "--data", "mnist_bundled", "--epochs", "0"],
            "--epochs: must be an integer >= 1, got 0",
        ),
        (
            ["lenet5_modern", "--data", "mnist_bundled", "--epochs", "two"],
            "--epochs: must be an integer >= 1",
        ),
        (["lenet5_modern", "--epochs", "1"], "the following arguments are required: --data"),
        (["lenet5_modern", "--data", "mnist_bundled", "--lr", "-1"], "--lr: must be a number > 0"),
        (
            ["lenet5_modern", "--data", "mnist_bundled", "--profile", "huge"],
            "--profile: invalid choice",
        ),
    ],
)
def test_cli_rejects_bad_arguments_with_a_clear_message(args, message, tmp_path):
    result = _cli(*args, tmp_path=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Warning" not in result.stderr  # `python -m` runs the package's __main__ cleanly
    assert not any(Path(tmp_path).iterdir())  # nothing trained, nothing written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "argument --batch-size: must be an integer >= 1, got 0"),
        (["--lr", "0"], "argument --lr: must be a number > 0, got 0.0"),
        (["--lr", "nan"], "argument --lr: must be a number > 0, got nan"),
        (["--epochs", "-1"], "argument --epochs: must be an integer >= 1, got -1"),
        (["--weight-decay", "-1"], "argument --weight-decay: must be a number >= 0, got -1.0"),
        (["--weight-decay", "inf"], "argument --weight-decay: must be a number >= 0, got inf"),
        (["--seed", "-1"], "argument --seed: must be an integer >= 0, got -1"),
        (["--workers", "-2"], "argument --workers: must be an integer >= 0, got -2"),
        (["--workers", "1.5"], "argument --workers: must be an integer >= 0, got '1.5'"),
    ],
)
def test_cli_rejects_numbers_outside_their_range(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        train.main(["lenet5_modern", "--data", "mnist_bundled", *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_main_returns_exit_status_in_process(capsys):
    with pytest.raises(SystemExit) as info:
        train.main(["lenet5_modern", "--data", "mnist_bundled", "--epochs", "-3"])
    assert info.value.code == 2
    assert "--epochs: must be an integer >= 1, got -3" in capsys.readouterr().err


def test_cli_reports_an_unavailable_dataset_in_one_line(monkeypatch, capsys, tmp_path):
    def offline(name, root=None):
        raise data.DownloadError(f"could not download {name!r} (offline)")

    monkeypatch.setattr(data, "load_dataset", offline)  # no network in tests
    status = train.main(
        ["lenet5_modern", "--data", "mnist", "--epochs", "1", "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert status == 1
    assert "error: could not load dataset 'mnist'" in err and "offline" in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- patience counter


def _feed(stopper, values, state=None):
    """Feed val_loss values epoch by epoch until the stopper stops; return the state."""
    if state is None:
        state, _ = _state_with(values)
    for v in values:
        state.epoch += 1
        state.history.append({"epoch": state.epoch, "val_loss": v})
        stopper.on_epoch_end(state)
        if state.stop:
            break
    return state


def test_early_stopping_patience_counts_from_the_last_improvement():
    # bad epoch 2, improvement at 3, then two bad epochs: stop at 5, not at 4
    stopper = train.EarlyStopping(patience=2, restore_best=False)
    state = _feed(stopper, [3.0, 3.1, 2.0, 2.1, 2.2, 2.3])
    assert (state.epoch, stopper.stopped_epoch, stopper.best_epoch) == (5, 5, 3)
    assert stopper.best == 2.0 and stopper.wait == 2


def test_early_stopping_state_round_trip_keeps_the_patience_counter():
    stopper = train.EarlyStopping(patience=3, restore_best=False)
    state = _feed(stopper, [1.0, 1.5, 1.6])
    assert stopper.wait == 2 and not state.stop
    fresh = train.EarlyStopping(patience=3, restore_best=False)
    fresh.load_state_dict(stopper.state_dict())
    assert (fresh.best, fresh.best_epoch, fresh.wait) == (1.0, 1, 2)
    state = _feed(fresh, [1.7], state)  # the third bad epoch in a row stops it
    assert state.stop and fresh.stopped_epoch == 4


def test_resume_in_the_middle_of_a_patience_window_stops_at_the_same_epoch(tmp_path):
    # lr = 0: the validation loss is the same every epoch, so epoch 1 is the best and a
    # patience-3 stopper stops at epoch 4. Interrupted in epoch 3 (the checkpoint holds epoch 2,
    # one bad epoch into the window), the resumed run must also stop at epoch 4.
    def setup():
        _, tl, vl, *_ = tiny_setup(augment=False)
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
        return model, tl, vl, torch.optim.SGD(model.parameters(), lr=0.0)

    model, tl, vl, opt = setup()
    stopper = train.EarlyStopping(patience=3, restore_best=False)
    full = train.fit(model, tl, vl, epochs=10, optimizer=opt, callbacks=[stopper], **QUIET)
    assert len(full) == 4 and stopper.stopped_epoch == 4

    ckpt = tmp_path / "plateau.pt"
    model, tl, vl, opt = setup()
    with pytest.raises(Interrupt):
        train.fit(
            model,
            tl,
            vl,
            epochs=10,
            optimizer=opt,
            checkpoint=ckpt,
            loss_fn=_interrupting_loss(13),  # 4 training + 2 validation calls per epoch
            callbacks=[train.EarlyStopping(patience=3, restore_best=False)],
            **QUIET,
        )
    assert train.load_checkpoint(ckpt)["epoch"] == 2

    model, tl, vl, opt = setup()
    stopper2 = train.EarlyStopping(patience=3, restore_best=False)
    resumed = train.fit(
        model,
        tl,
        vl,
        epochs=10,
        optimizer=opt,
        checkpoint=ckpt,
        resume=True,
        callbacks=[stopper2],
        **QUIET,
    )
    assert len(resumed) == len(full) == 4
    assert (stopper2.stopped_epoch, stopper2.best_epoch) == (4, 1)
    assert resumed["val_loss"] == full["val_loss"]


# --------------------------------------------------------------------------- callbacks, exactly


def test_min_delta_is_a_strict_margin_in_both_modes():
    # min mode: from 1.0 with min_delta 0.25, 0.75 is not an improvement, 0.7 is
    stopper = train.EarlyStopping(patience=5, min_delta=0.25, restore_best=False)
    _feed(stopper, [1.0, 0.75])
    assert (stopper.best, stopper.best_epoch, stopper.wait) == (1.0, 1, 1)
    stopper2 = train.EarlyStopping(patience=5, min_delta=0.25, restore_best=False)
    _feed(stopper2, [1.0, 0.7])
    assert (stopper2.best, stopper2.best_epoch, stopper2.wait) == (0.7, 2, 0)
    # max mode ('auto' maximises anything that is not a loss)
    maxer = train.EarlyStopping(monitor="val_accuracy", patience=5, min_delta=0.25)
    assert maxer.mode == "max"
    state, _ = _state_with([])
    for epoch, v in enumerate([0.5, 0.75, 0.8], 1):
        state.epoch = epoch
        state.history.append({"epoch": epoch, "val_accuracy": v})
        maxer.on_epoch_end(state)
    assert (maxer.best, maxer.best_epoch, maxer.wait) == (0.8, 3, 0)
    assert train.EarlyStopping(monitor="val_loss", mode="max").mode == "max"
    assert train.EarlyStopping(monitor="val_accuracy", mode="min").mode == "min"


def test_early_stopping_restore_best_false_keeps_the_last_weights_and_state_dict_is_complete():
    stopper = train.EarlyStopping(patience=1, restore_best=False)
    state, model = _state_with([2.0, 3.0])
    for epoch, v in enumerate([2.0, 3.0], 1):
        nn.init.constant_(model.weight, float(epoch))
        state.epoch = epoch
        state.history.append({"epoch": epoch, "val_loss": v})
        stopper.on_epoch_end(state)
    stopper.on_train_end(state)
    assert float(model.weight.detach()) == 2.0  # the last weights, not epoch 1's
    assert stopper.state_dict() == {
        "best": 2.0,
        "best_epoch": 1,
        "wait": 1,
        "stopped_epoch": 2,
        "best_weights": None,
    }
    assert repr(stopper) == "EarlyStopping(monitor='val_loss', patience=1, best_epoch=1)"
    keeper = train.EarlyStopping(patience=3)
    state, model = _state_with([1.0])
    nn.init.constant_(model.weight, 4.0)
    state.epoch = 1
    state.history.append({"epoch": 1, "val_loss": 1.0})
    keeper.on_epoch_end(state)
    saved = keeper.state_dict()
    assert float(saved["best_weights"]["weight"]) == 4.0
    nn.init.constant_(model.weight, 5.0)  # the saved copy is a deep copy
    fresh = train.EarlyStopping(patience=3)
    fresh.load_state_dict(saved)
    fresh.on_train_end(state)
    assert float(model.weight.detach()) == 4.0 and fresh.stopped_epoch is None


def test_monitor_error_lists_the_recorded_columns():
    stopper = train.EarlyStopping()
    state, _ = _state_with([])
    state.epoch = 1
    state.history.append({"epoch": 1, "train_loss": 0.5, "val_loss": None})
    with pytest.raises(ValueError) as info:
        stopper.on_epoch_end(state)
    assert str(info.value) == (
        "monitor 'val_loss' is not recorded; available: ['epoch', 'train_loss'] "
        "(val_* needs a val_loader)"
    )


def test_best_checkpoint_saves_only_improvements_and_round_trips(tmp_path):
    best = train.BestCheckpoint(tmp_path / "b.pt", monitor="val_loss", min_delta=0.25)
    state, model = _state_with([])
    for epoch, v in enumerate([1.0, 0.8, 0.5, 0.6], 1):
        nn.init.constant_(model.weight, float(epoch))
        state.epoch = epoch
        state.history.append({"epoch": epoch, "val_loss": v})
        best.on_epoch_end(state)
    saved = train.load_checkpoint(tmp_path / "b.pt")
    assert saved["epoch"] == 3 and saved["val_loss"] == 0.5
    assert float(saved["model"]["weight"]) == 3.0
    assert best.state_dict() == {"best": 0.5, "best_epoch": 3}
    other = train.BestCheckpoint(tmp_path / "c.pt")
    other.load_state_dict(best.state_dict())
    assert (other.best, other.best_epoch, other.mode) == (0.5, 3, "min")
    assert train.BestCheckpoint(tmp_path / "d.pt", monitor="val_accuracy").mode == "max"


def test_checkpoint_errors_and_sidecar_format(tmp_path):
    path = train.save_checkpoint(tmp_path / "e.pt", {"x": 1})
    digest = data.sha256_file(path)
    assert (tmp_path / "e.pt.sha256").read_text() == f"{digest}  e.pt\n"
    with pytest.raises(FileNotFoundError) as info:
        train.load_checkpoint(tmp_path / "none.pt")
    assert str(info.value) == f"checkpoint {tmp_path / 'none.pt'} does not exist"
    (tmp_path / "e.pt.sha256").write_text("0" * 64 + "  e.pt\n")
    with pytest.raises(data.ChecksumError) as info:
        train.load_checkpoint(path)
    assert str(info.value) == (
        f"checkpoint {path} has SHA-256 {digest}, but e.pt.sha256 says {'0' * 64}: the file "
        "is corrupt or was changed (or a save was interrupted between the two files). "
        "Delete both to start over."
    )
    (tmp_path / "e.pt.sha256").unlink()
    with pytest.raises(FileNotFoundError) as info:
        train.load_checkpoint(path)
    assert str(info.value) == f"checkpoint {path} has no SHA-256 sidecar e.pt.sha256"


def test_best_checkpoint_defaults_watch_val_loss_with_no_margin(tmp_path):
    best = train.BestCheckpoint(tmp_path / "f.pt")
    state, _ = _state_with([])
    for epoch, v in enumerate([1.0, 0.6], 1):
        state.epoch = epoch
        state.history.append({"epoch": epoch, "val_loss": v})
        best.on_epoch_end(state)
    assert (best.monitor, best.mode, best.min_delta) == ("val_loss", "min", 0.0)
    assert train.load_checkpoint(tmp_path / "f.pt")["epoch"] == 2


def test_early_stopping_defaults_and_fresh_state():
    stopper = train.EarlyStopping()
    assert stopper.state_dict() == {
        "best": None,
        "best_epoch": None,
        "wait": 0,
        "stopped_epoch": None,
        "best_weights": None,
    }
    state, _ = _state_with([])
    stopper.on_train_end(state)  # nothing seen yet: nothing to restore, no error
    state = _feed(stopper, [1.0] + [2.0] * 6, state)  # default patience 5
    assert state.epoch == 6 and stopper.stopped_epoch == 6


def test_early_stopping_without_restore_best_ignores_loaded_weights():
    keeper = train.EarlyStopping(patience=3)
    state, model = _state_with([])
    nn.init.constant_(model.weight, 4.0)
    _feed(keeper, [1.0], state)
    plain = train.EarlyStopping(patience=3, restore_best=False)
    plain.load_state_dict(keeper.state_dict())
    nn.init.constant_(model.weight, 5.0)
    plain.on_train_end(state)
    assert float(model.weight.detach()) == 5.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"patience": 0}, ValueError, "patience must be >= 1, got 0"),
        ({"restore_best": 1}, TypeError, "restore_best must be True or False, got 1 (int)"),
        ({"min_delta": -1}, ValueError, "min_delta must be a finite number >= 0, got -1.0"),
    ],
)
def test_early_stopping_argument_messages_are_exact(kwargs, error, message):
    with pytest.raises(error) as info:
        train.EarlyStopping(**kwargs)
    assert str(info.value) == message


def test_resuming_with_a_scheduler_the_checkpoint_lacks_is_refused(tmp_path):
    model, tl, _, opt, sched = tiny_setup(augment=False, epochs=2)
    train.fit(model, tl, epochs=1, optimizer=opt, checkpoint=tmp_path / "n.pt", **QUIET)
    with pytest.raises(ValueError) as info:
        train.fit(
            model,
            tl,
            epochs=2,
            optimizer=opt,
            scheduler=sched,
            checkpoint=tmp_path / "n.pt",
            resume=True,
            **QUIET,
        )
    assert str(info.value) == ("the checkpoint was saved without a scheduler; pass scheduler=None")


class _Recorder:
    """A stand-in for a loss scaler or a duck-typed callback: remembers what it was given."""

    def __init__(self, value=None):
        self.value, self.loaded = value, None

    def state_dict(self):
        return {"value": self.value}

    def load_state_dict(self, state):
        self.loaded = state


def test_restore_state_loads_the_scaler_and_callbacks_it_has_and_tolerates_old_checkpoints():
    model, tl, _, opt, _ = tiny_setup(augment=False)
    state = train.TrainState(model, opt, None, train.History(), epochs=3)
    state.epoch = 2
    saved = train.checkpoint.pack_state(
        state, scaler=_Recorder(7), callbacks=[_Recorder(1)], loader=tl
    )
    scaler, first, extra = _Recorder(), _Recorder(), _Recorder()
    fresh = train.TrainState(model, opt, None, train.History(), epochs=3)
    # a callback added since the checkpoint was written just starts fresh
    train.checkpoint.restore_state(saved, fresh, scaler=scaler, callbacks=[first, extra], loader=tl)
    assert scaler.loaded == {"value": 7} and first.loaded == {"value": 1}
    assert extra.loaded is None and fresh.epoch == 2

    class StatelessOnResume:  # saves a state, but has no load_state_dict
        def state_dict(self):
            return {"n": 1}

    train.checkpoint.restore_state(
        saved, fresh, scaler=None, callbacks=[StatelessOnResume()], loader=tl
    )
    # a checkpoint saved without a scaler state (CPU run) restored into a scaler: left alone;
    # one written before batch losses were saved: an empty list
    old = {k: v for k, v in saved.items() if k != "batch_loss"} | {"scaler": None}
    scaler = _Recorder()
    train.checkpoint.restore_state(old, fresh, scaler=scaler, callbacks=[], loader=tl)
    assert scaler.loaded is None and fresh.history.batch_loss == []


def test_set_rng_state_accepts_lists_restores_cuda_only_with_cuda_and_checks_the_loader(
    monkeypatch,
):
    import random

    loader = datasets.make_loader(datasets.ImageDataset(*tiny_data()), 8, shuffle=True, seed=1)
    state = train.checkpoint.rng_state(loader)
    expected = random.random()
    # a checkpoint read back through JSON-like containers gives lists where getstate had tuples
    version, internal, gauss = state["python"]
    state["python"] = [version, list(internal), gauss]
    calls = []
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", calls.append)
    state["cuda"] = [torch.zeros(4, dtype=torch.uint8)]  # saved on a GPU machine
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    train.checkpoint.set_rng_state(state, loader)
    assert random.random() == expected and calls == []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    train.checkpoint.set_rng_state(state, loader)
    assert len(calls) == 1 and calls[0] is state["cuda"]
    state["loader"] = []
    with pytest.raises(ValueError) as info:
        train.checkpoint.set_rng_state(state, loader)
    assert str(info.value) == (
        "train_loader has 1 random generator(s) but the checkpoint saved 0; resume with a "
        "loader built the same way"
    )


def test_pack_state_writes_the_documented_format():
    model, tl, _, opt, _ = tiny_setup(augment=False)
    state = train.TrainState(model, opt, None, train.History(), epochs=3)
    saved = train.checkpoint.pack_state(state, scaler=None, callbacks=[], loader=tl)
    assert saved["format"] == train.checkpoint.FORMAT == 1
    assert sorted(saved) == sorted(
        [
            "format",
            "epoch",
            "stopped",
            "model",
            "optimizer",
            "scheduler",
            "scaler",
            "callbacks",
            "history",
            "batch_loss",
            "rng",
        ]
    )
    assert saved["scaler"] is None and saved["scheduler"] is None
    assert saved["stopped"] is False and saved["epoch"] == 0  # a fresh TrainState
    # one process: its own random states, not a list of every process's
    assert (
        isinstance(saved["rng"], dict)
        and saved["rng"].keys() == train.checkpoint.rng_state(tl).keys()
    )


def test_a_checkpoint_of_two_processes_cannot_resume_in_one():
    model, tl, _, opt, _ = tiny_setup(augment=False)
    state = train.TrainState(model, opt, None, train.History(), epochs=3)
    saved = train.checkpoint.pack_state(state, scaler=None, callbacks=[], loader=tl)
    saved["rng"] = [saved["rng"], saved["rng"]]  # as torchrun with two processes writes it
    with pytest.raises(ValueError) as err:
        train.checkpoint.restore_state(saved, state, scaler=None, callbacks=[], loader=tl)
    assert str(err.value) == (
        "the checkpoint was written by 2 processes; resume it with --nproc_per_node/--nnodes "
        "giving 2 processes, not 1"
    )


def test_load_checkpoint_unpickles_only_tensors_and_plain_containers(tmp_path):
    import pickle

    path = train.save_checkpoint(tmp_path / "obj.pt", {"cb": _Recorder(3)})
    with pytest.raises(pickle.UnpicklingError):
        train.load_checkpoint(path)


def test_loader_generators_are_found_wherever_the_loader_keeps_them():
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

    find = train.checkpoint._loader_generators
    ds = TensorDataset(torch.arange(6.0))
    g1, g2, g3 = torch.Generator(), torch.Generator(), torch.Generator()
    assert find([]) == []  # a plain list of batches has no generator
    shuffled = DataLoader(ds, batch_size=2, shuffle=True, generator=g1)
    assert [id(g) for g in find(shuffled)] == [id(g1)]  # loader, sampler: one generator, once
    both = DataLoader(ds, batch_size=2, sampler=RandomSampler(ds, generator=g2), generator=g1)
    assert [id(g) for g in find(both)] == [id(g1), id(g2)]
    unbatched = DataLoader(ds, batch_size=None, sampler=RandomSampler(ds, generator=g2))
    assert [id(g) for g in find(unbatched)] == [id(g2)]
    custom = DataLoader(ds, batch_sampler=BatchSampler(RandomSampler(ds, generator=g3), 2, False))
    assert [id(g) for g in find(custom)] == [id(g3)]

    class OwnBatches:  # a batch sampler that shuffles with its own generator
        generator = g2

        def __iter__(self):
            return iter([[0, 1]])

        def __len__(self):
            return 1

    assert [id(g) for g in find(DataLoader(ds, batch_sampler=OwnBatches()))] == [id(g2)]


def test_rng_state_keeps_numpy_cached_gaussian_and_cuda_states(monkeypatch):
    np.random.seed(0)  # noqa: NPY002
    np.random.normal()  # noqa: NPY002 - leaves a cached second Gaussian (has_gauss = 1)
    state = train.checkpoint.rng_state([])
    expected = np.random.normal()  # noqa: NPY002
    np.random.seed(1)  # noqa: NPY002
    train.checkpoint.set_rng_state(state, [])
    assert np.random.normal() == expected  # noqa: NPY002
    sentinel = [torch.zeros(3, dtype=torch.uint8)]
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: sentinel)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert train.checkpoint.rng_state([])["cuda"] == []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert train.checkpoint.rng_state([])["cuda"] is sentinel


def test_pack_state_stores_none_for_a_callback_without_state(tmp_path):
    model, tl, _, opt, _ = tiny_setup(augment=False)
    state = train.TrainState(model, opt, None, train.History(), epochs=1)

    class Stateless:
        def on_epoch_end(self, state):
            pass

    saved = train.checkpoint.pack_state(state, scaler=None, callbacks=[Stateless()], loader=tl)
    assert saved["callbacks"] == [None]
    path = train.save_checkpoint(tmp_path / "m.pt", {"w": torch.ones(2)})
    assert train.load_checkpoint(path, map_location="meta")["w"].is_meta


# --------------------------------------------------------------------------- one epoch, directly
# fit() runs these with the settings a CPU picks (no AMP, no scaler); the CUDA paths are
# exercised here on the CPU by building the settings by hand (bfloat16 autocast and a
# GradScaler both exist on the CPU).

CPU = torch.device("cpu")


def test_step_settings_choose_on_cpu():
    s = train.StepSettings.choose("cpu", channels_last=True, grad_clip=0.5)
    assert s == train.StepSettings(CPU, False, None, True, None, 0.5)
    assert train.StepSettings.choose(CPU) == train.StepSettings(CPU)
    with pytest.raises(ValueError, match=r"^amp=True needs a CUDA device, got device='cpu'"):
        train.StepSettings.choose("cpu", amp=True)


def test_step_settings_autocast_runs_the_forward_in_the_chosen_dtype():
    a = torch.ones(2, 3)
    with train.StepSettings(CPU).autocast():
        assert (a @ a.T).dtype == torch.float32
    for dtype in (torch.bfloat16, torch.float16):  # float16 is not the CPU's default
        with train.StepSettings(CPU, amp=True, dtype=dtype).autocast():
            assert (a @ a.T).dtype == dtype


def test_to_device_moves_both_and_makes_4d_inputs_channels_last():
    from cnncourse.train.epoch import to_device

    x4, x2, y = torch.randn(2, 3, 4, 5), torch.randn(2, 3), torch.tensor([0, 1])
    a, b = to_device((x4, y), CPU, channels_last=True)
    assert a.is_contiguous(memory_format=torch.channels_last) and not x4.is_contiguous(
        memory_format=torch.channels_last
    )
    assert torch.equal(a, x4) and torch.equal(b, y)
    a, _ = to_device([x4, y], CPU, channels_last=False)
    assert a.is_contiguous()  # NCHW stays NCHW
    a, _ = to_device((x2, y), CPU, channels_last=True)  # not an image batch: left as it is
    assert torch.equal(a, x2) and a.is_contiguous()
    if torch.device("meta").type == "meta":  # moving really moves: to the meta device
        m, n = to_device((x4, y), torch.device("meta"), channels_last=False)
        assert m.device.type == n.device.type == "meta"


@pytest.mark.parametrize(
    "batch, message",
    [
        (
            (1, 2, 3),
            "every batch must be a pair (inputs, targets); got tuple of length 3",
        ),
        (torch.zeros(4, 2), "every batch must be a pair (inputs, targets); got Tensor of length 4"),
        (7, "every batch must be a pair (inputs, targets); got int of length ?"),
    ],
)
def test_to_device_message_is_exact(batch, message):
    from cnncourse.train.epoch import to_device

    with pytest.raises(ValueError) as err:
        to_device(batch, CPU, False)
    assert str(err.value) == message


def _one_param_problem():
    w = nn.Parameter(torch.tensor([3.0, 4.0]))
    model = nn.Module()
    model.w = w
    return model, w, torch.optim.SGD([w], lr=1.0)


@pytest.mark.parametrize("scaled", [False, True])
def test_backward_and_step_clips_the_true_gradient(scaled):
    """grad = (3, 4) (norm 5), clipped to norm 1 -> the step is (0.6, 0.8), also when the loss
    was scaled by a GradScaler (it must unscale before clipping)."""
    from cnncourse.train.epoch import _backward_and_step

    model, w, opt = _one_param_problem()
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0) if scaled else None
    loss = (w.detach() * w).sum()  # d/dw = w = (3, 4)
    _backward_and_step(loss, model, opt, train.StepSettings(CPU, scaler=scaler, grad_clip=1.0))
    torch.testing.assert_close(w.detach(), torch.tensor([3 - 0.6, 4 - 0.8]))
    if scaled:
        assert scaler.get_scale() == 1024.0  # update() ran: no inf, scale kept within its interval


@pytest.mark.parametrize("scaled", [False, True])
def test_backward_and_step_without_clipping(scaled):
    from cnncourse.train.epoch import _backward_and_step

    model, w, opt = _one_param_problem()
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0, growth_interval=1) if scaled else None
    loss = (w.detach() * w).sum()
    _backward_and_step(loss, model, opt, train.StepSettings(CPU, scaler=scaler))
    torch.testing.assert_close(w.detach(), torch.zeros(2))  # w - 1.0 * w
    if scaled:
        assert scaler.get_scale() == 16.0  # update() ran and grew the scale after a clean step


def test_train_one_epoch_reports_the_rate_each_step_used_and_every_batch():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    xs, ys = torch.randn(10, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    loader = [(xs[:4], ys[:4]), (xs[4:8], ys[4:8]), (xs[8:], ys[8:])]
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    losses, bar = [], _CountingBar()
    row = train.train_one_epoch(
        model, loader, opt, F.cross_entropy, train.StepSettings(CPU),
        scheduler=sched, bar=bar, batch_losses=losses,
    )  # fmt: skip
    assert row["lr"] == pytest.approx(0.005)  # the third step's rate; the scheduler then moved it
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0005)
    assert row["samples"] == 10 and bar.n == 3 and len(losses) == 3
    expected = (4 * losses[0] + 4 * losses[1] + 2 * losses[2]) / 10
    assert row["train_loss"] == pytest.approx(expected)
    assert 0 <= row["train_accuracy"] <= 1 and model.training


class _CountingBar:
    def __init__(self):
        self.n = 0

    def update(self, k=1):
        self.n += k


def test_meter_weights_by_batch_size_and_skips_accuracy_for_regression():
    from cnncourse.train.epoch import Meter

    m = Meter()
    m.add(torch.tensor([[2.0, 1.0], [0.0, 1.0]]), torch.tensor([0, 0]), torch.tensor(1.0))
    m.add(torch.tensor([[0.0, 3.0]]), torch.tensor([1]), torch.tensor(4.0))
    assert m.result() == (pytest.approx(2.0), pytest.approx(2 / 3), 3)
    r = Meter()
    r.add(torch.zeros(2, 1), torch.zeros(2, 1), torch.tensor(3.0))  # float targets: regression
    assert r.result() == (3.0, None, 2)
    c = Meter()  # integer targets but not (N, C) logits: no accuracy either
    c.add(torch.zeros(2, 3, 4), torch.zeros(2, dtype=torch.long), torch.tensor(1.0))
    assert c.result()[1] is None


# --------------------------------------------------------------------------- the loop's helpers


def test_format_epoch_line():
    row = {
        "epoch": 3, "train_loss": 0.123456, "train_accuracy": 0.5, "val_loss": None,
        "val_accuracy": 0.25, "lr": 0.00123456, "time": 1.94, "throughput": 1234.4,
    }  # fmt: skip
    assert train.format_epoch(row, 12) == (
        "epoch 3/12 train_loss=0.1235 train_accuracy=0.5000 val_accuracy=0.2500 "
        "lr=0.00123 time=1.9s throughput=1234/s"
    )
    row.update(val_loss=2.0, train_accuracy=None)
    assert train.format_epoch(row) == (
        "epoch 3 train_loss=0.1235 val_loss=2.0000 val_accuracy=0.2500 lr=0.00123 time=1.9s "
        "throughput=1234/s"
    )


def test_plateau_scheduler_watches_the_training_loss_without_validation():
    model, tl, *_ = tiny_setup(augment=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = RecordingPlateau(opt)
    h = train.fit(model, tl, epochs=2, optimizer=opt, scheduler=plateau, **QUIET)
    assert plateau.seen == h["train_loss"]


@pytest.mark.parametrize("interval, steps", [("batch", 2 * 3), ("epoch", 2), ("auto", 2)])
def test_scheduler_interval_is_honoured(interval, steps):
    model, tl, *_ = tiny_setup(augment=False)
    tl = list(tl)[:3]  # three batches per epoch
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    train.fit(
        model, tl, epochs=2, optimizer=opt, scheduler=sched, scheduler_interval=interval, **QUIET
    )
    assert sched.last_epoch == steps


def test_evaluate_and_predict_a_model_without_parameters_run_on_the_cpu():
    model = nn.Flatten()  # no parameters: the device falls back to the CPU
    x, y = torch.randn(4, 1, 1, 3), torch.tensor([0, 1, 2, 0])
    out = train.predict(model, [(x, y)])
    assert out.device.type == "cpu" and out.shape == (4, 3)
    res = train.evaluate(model, [(x, y)])
    assert res["n"] == 4
    assert res["loss"] == pytest.approx(F.cross_entropy(x.flatten(1), y).item())
    assert res["accuracy"] == (x.flatten(1).argmax(1) == y).float().mean().item()


@pytest.fixture
def single_rank_group():
    """An in-process gloo group of one rank: fit() takes its torchrun code paths (rank 0 reads
    the checkpoint and broadcasts it) without starting processes."""
    import torch.distributed as dist

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_pack_state_inside_a_process_group_gathers_every_process_rng(single_rank_group):
    model, tl, _, opt, _ = tiny_setup(augment=False)
    state = train.TrainState(model, opt, None, train.History(), epochs=3)
    saved = train.checkpoint.pack_state(state, scaler=None, callbacks=[], loader=tl)
    assert isinstance(saved["rng"], list) and len(saved["rng"]) == 1  # one entry per process
    assert saved["rng"][0].keys() == train.checkpoint.rng_state(tl).keys()
    train.checkpoint.restore_state(saved, state, scaler=None, callbacks=[], loader=tl)


def test_resume_inside_a_process_group_reads_the_checkpoint_on_rank_0(tmp_path, single_rank_group):
    from cnncourse.train import distributed

    assert distributed.active()
    ckpt = tmp_path / "done.pt"
    missing = train.fit(
        *tiny_setup(augment=False)[:2],
        epochs=1,
        checkpoint=tmp_path / "new.pt",
        resume=True,
        **QUIET,
    )
    assert len(missing) == 1  # no file yet: a fresh start, also in a group
    model, tl, vl, opt, sched = tiny_setup(epochs=2)
    train.fit(model, tl, epochs=2, optimizer=opt, scheduler=sched, checkpoint=ckpt, **QUIET)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    model2, tl2, _, opt2, sched2 = tiny_setup(seed=5, epochs=2)
    h = train.fit(
        model2, tl2, epochs=2, optimizer=opt2, scheduler=sched2, checkpoint=ckpt, resume=True,
        **QUIET,
    )  # fmt: skip
    assert len(h) == 2
    for k, v in model2.state_dict().items():
        assert torch.equal(v, weights[k]), k


def test_train_one_epoch_feeds_channels_last_inputs_when_asked():
    seen = []
    model = nn.Sequential(nn.Conv2d(2, 2, 3), nn.Flatten(), nn.Linear(2 * 2 * 2, 3))
    model[0].register_forward_pre_hook(
        lambda mod, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    loader = [(torch.randn(2, 2, 4, 4), torch.tensor([0, 1]))]  # C > 1: NCHW is not NHWC
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for channels_last in (True, False):
        train.train_one_epoch(
            model,
            loader,
            opt,
            F.cross_entropy,
            train.StepSettings(CPU, channels_last=channels_last),
        )
    assert seen == [True, False]


def test_epoch_bar_counts_batches_and_names_the_epoch():
    from cnncourse.train.loop import _epoch_bar

    bar = _epoch_bar(None, total=7, epoch=1, epochs=3)
    try:
        assert (bar.total, bar.unit, bar.desc) == (7, "batch", "epoch 1/3: ")
        assert callable(bar.dynamic_ncols)  # tqdm swaps True for a function that reads the width
        bar.update(7)
        same = _epoch_bar(bar, total=5, epoch=2, epochs=3)
        assert same is bar and (bar.total, bar.n, bar.desc) == (5, 0, "epoch 2/3: ")
    finally:
        bar.close()


# --------------------------------------------------------------------------- fit's defaults and flags


def _two_channel_problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    loader = [(torch.randn(4, 2, 6, 6), torch.tensor([0, 1, 2, 0])) for _ in range(2)]
    return model, loader


def test_fit_by_default_logs_each_epoch_and_shows_a_progress_bar(capsys):
    model, loader = _two_channel_problem()
    train.fit(model, loader, epochs=1)  # device, progress, verbose, live_plot: all defaults
    out, err = capsys.readouterr()
    assert out.startswith("epoch 1/1 train_loss=")
    assert "2/2" in err and "batch" in err  # tqdm's bar on stderr: two batches of unit "batch"


def test_fit_quiet_prints_nothing(capsys):
    model, loader = _two_channel_problem()
    train.fit(model, loader, epochs=1, progress=False, verbose=False)
    assert capsys.readouterr() == ("", "")


def test_fit_says_where_it_resumed_from(tmp_path, capsys):
    ckpt = tmp_path / "run.pt"
    model, loader = _two_channel_problem()
    train.fit(model, loader, epochs=1, checkpoint=ckpt, progress=False, verbose=False)
    train.fit(model, loader, epochs=2, checkpoint=ckpt, resume=True, progress=False)
    assert capsys.readouterr().out.startswith(f"resumed from {ckpt} after epoch 1\n")


@pytest.mark.parametrize("flag", ["verbose", "record_batch_loss"])
def test_fit_flag_messages_are_exact(flag):
    model, loader = _two_channel_problem()
    with pytest.raises(TypeError) as err:
        train.fit(model, loader, epochs=1, **{**QUIET, flag: 1})
    assert str(err.value) == f"{flag} must be True or False, got 1 (int)"


def test_fit_with_channels_last_feeds_nhwc_inputs_and_keeps_nhwc_weights():
    model, loader = _two_channel_problem()
    seen = []
    model[0].register_forward_pre_hook(
        lambda mod, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    train.fit(model, loader, epochs=1, channels_last=True, **QUIET)
    assert seen == [True, True]
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not model[0].weight.is_contiguous()  # (4, 2, 3, 3): NHWC differs from NCHW


def test_callbacks_see_the_planned_number_of_epochs():
    model, loader = _two_channel_problem()

    class Planned:
        seen = []

        def on_epoch_end(self, state):
            self.seen.append((state.epoch, state.epochs))
            return False

    train.fit(model, loader, epochs=2, callbacks=[Planned()], **QUIET)
    assert Planned.seen == [(1, 2), (2, 2)]


def test_fit_rejects_a_loader_without_a_length():
    model, loader = _two_channel_problem()
    batches = (b for b in loader)
    with pytest.raises(TypeError) as err:
        train.fit(model, batches, epochs=1, **QUIET)
    assert (
        str(err.value)
        == f"train_loader must be an iterable with a length (a DataLoader), got {batches!r}"
    )


def test_fit_times_epochs_and_throughput_consistently():
    model, loader = _two_channel_problem()
    start = time.perf_counter()
    h = train.fit(model, loader, loader, epochs=2, **QUIET)
    elapsed = time.perf_counter() - start
    for t, throughput in zip(h["time"], h["throughput"], strict=True):
        assert 0 < t <= elapsed  # an epoch takes part of the call's wall time
        # throughput = samples / training time, and training is part of the epoch's time
        assert throughput >= 8 / t


def test_fit_calls_on_train_end_once_and_reports_a_diverging_loss():
    model, loader = _two_channel_problem()

    class Ends:
        calls = 0

        def on_epoch_end(self, state):
            return False

        def on_train_end(self, state):
            type(self).calls += 1

    train.fit(model, loader, epochs=2, callbacks=[Ends()], **QUIET)
    assert Ends.calls == 1
    bad = [(torch.full((4, 2, 6, 6), float("inf")), torch.tensor([0, 1, 2, 0]))]
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    with pytest.raises(FloatingPointError) as err:
        train.fit(model, bad, epochs=1, optimizer=opt, **QUIET)
    assert str(err.value) == (
        "the training loss became nan in epoch 1; lower the learning rate (now 0.5) or clip "
        "gradients (grad_clip=1.0)"
    )


def test_sharded_loaders_inside_a_process_group(single_rank_group):
    """fit() reshuffles a DistributedSampler every epoch and combines validation over ranks;
    with one rank the combined scores are the plain evaluation."""
    from cnncourse.train import distributed

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(12, 2, 6, 6), torch.arange(12) % 3)
    tl = distributed.make_loader(data, 4, seed=1)
    vl = distributed.make_loader(data, 4, seed=2)
    model, _ = _two_channel_problem()
    h = train.fit(model, tl, vl, epochs=2, **QUIET)
    assert tl.sampler.epoch == 2  # the last epoch's shuffle
    plain = train.evaluate(model, [(data.tensors[0], data.tensors[1])])
    assert h["val_loss"][-1] == pytest.approx(plain["loss"])
    assert h["val_accuracy"][-1] == pytest.approx(plain["accuracy"])
