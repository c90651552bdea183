"""train.device / profile / seed_everything: the pieces every chapter calls first."""

import numpy as np
import pytest
import torch

from cnncourse import train


def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert train.device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert train.device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert train.device().type == "cpu"


@pytest.mark.parametrize(
    "env,cuda,expected",
    [
        ("quick", True, "quick"),
        ("full", False, "full"),
        ("auto", True, "full"),
        ("auto", False, "quick"),
        (" Quick ", False, "quick"),
        (None, False, "quick"),
        (None, True, "full"),
    ],
)
def test_profile_resolution(monkeypatch, env, cuda, expected):
    if env is None:
        monkeypatch.delenv("CNNCOURSE_PROFILE", raising=False)
    else:
        monkeypatch.setenv("CNNCOURSE_PROFILE", env)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert train.profile() == expected


def test_profile_rejects_unknown_value(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_PROFILE", "fast")
    with pytest.raises(
        ValueError, match="CNNCOURSE_PROFILE must be one of quick, full, auto; got 'fast'"
    ):
        train.profile()
    with pytest.raises(ValueError, match="profile must be one of"):
        train.profile("medium")


def test_seed_everything_repeats_random_streams():
    train.seed_everything(123)
    # seed_everything seeds the legacy global numpy state that older code relies on.
    a = (np.random.rand(3), torch.rand(3))  # noqa: NPY002
    train.seed_everything(123)
    b = (np.random.rand(3), torch.rand(3))  # noqa: NPY002
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        train.seed_everything(-1)
    with pytest.raises(TypeError, match="seed must be an integer, got 1.5"):
        train.seed_everything(1.5)
