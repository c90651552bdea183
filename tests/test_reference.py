"""Bundled reference checkpoints (cnncourse.train.reference) and the training thread count."""

import os
import shutil

import pytest
import torch

from cnncourse import canvases, datasets, detect
from cnncourse.data import ChecksumError
from cnncourse.train import reference, save_checkpoint, threads


@pytest.mark.parametrize("name", sorted(reference.REFERENCES))
def test_bundled_reference_is_small_and_matches_its_hash(name):
    path = reference.bundled_path(name)
    assert path.stat().st_size < 1_000_000
    model = reference.load_bundled(name)
    assert not model.training


def test_bundled_lenet_classifies_the_held_out_digits():
    model = reference.load_bundled("lenet5_modern_mnist_bundled")
    _, test_set = datasets.load("mnist_bundled")
    x, y = test_set.tensors()
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.95


def test_bundled_detector_finds_the_digits():
    model = reference.load_bundled("tinydetector_canvases")
    test_set = canvases.make_canvases(100, "test", seed=1)
    predictions = model.predict(torch.from_numpy(test_set.images)[:, None])
    voc = detect.mean_average_precision(predictions, test_set.ground_truths(), iou_threshold=0.5)
    assert voc["map"] > 0.8


def test_a_changed_bundled_file_is_refused(tmp_path, monkeypatch):
    name = "lenet5_modern_mnist_bundled"
    copy = tmp_path / reference.REFERENCES[name].file
    shutil.copy(reference.bundled_path(name), copy)
    with open(copy, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    monkeypatch.setattr(reference, "DATA_DIR", tmp_path)
    with pytest.raises(ChecksumError):
        reference.load_bundled(name)
    with pytest.raises(ChecksumError):
        reference.trained_model(name, runs=tmp_path / "no-runs")


def test_trained_model_prefers_the_students_checkpoint(tmp_path):
    name = "tinydetector_canvases"
    torch.manual_seed(1)
    own = detect.TinyDetector()
    state = {"model": own.state_dict(), "model_name": "tinydetector", "kwargs": {}}
    save_checkpoint(tmp_path / f"{name}.pt", state)
    model, source = reference.trained_model(name, runs=tmp_path)
    assert "your own" in source and str(tmp_path) in source
    for a, b in zip(model.state_dict().values(), own.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    model, source = reference.trained_model(name, runs=tmp_path / "empty")
    assert "bundled reference" in source and f"reference {name}" in source


def test_trained_model_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="name"):
        reference.trained_model("resnet9000")


@pytest.mark.parametrize(
    ("cores", "busy", "expected"),
    [(2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 2.0, 1), (2, 5.0, 1), (8, 3.2, 5), (1, 0.0, 1)],
)
def test_choose_threads_gives_the_idle_cores(cores, busy, expected):
    assert threads.choose_threads(cores, busy) == expected


def test_choose_threads_rejects_bad_input():
    with pytest.raises(ValueError, match="cores"):
        threads.choose_threads(0, 0.0)
    with pytest.raises(ValueError, match="busy"):
        threads.choose_threads(2, -1.0)


def test_busy_cores_is_between_zero_and_the_core_count():
    assert 0.0 <= threads.busy_cores(0.05) <= (os.cpu_count() or 1) + 1e-9


def test_configure_threads_respects_an_explicit_setting(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        monkeypatch.delenv("CNNCOURSE_THREADS", raising=False)
        torch.set_num_threads(1)
        assert threads.configure_threads("cpu", "quick") == 1 == torch.get_num_threads()
        monkeypatch.setenv("CNNCOURSE_THREADS", "2")
        assert threads.configure_threads("cpu", "quick") == 2 == torch.get_num_threads()
        monkeypatch.setenv("CNNCOURSE_THREADS", "zero")
        with pytest.raises(ValueError, match="CNNCOURSE_THREADS.*'zero'"):
            threads.configure_threads("cpu", "quick")
        monkeypatch.delenv("CNNCOURSE_THREADS")
        monkeypatch.delenv("OMP_NUM_THREADS")
        n = threads.configure_threads("cpu", "quick")
        assert 1 <= n <= (os.cpu_count() or 1) and torch.get_num_threads() == n
        torch.set_num_threads(1)
        assert threads.configure_threads("cpu", "full") == 1  # full profile: left alone
    finally:
        torch.set_num_threads(before)
