"""Shared test settings: quick profile, headless matplotlib, hypothesis profiles."""

import os

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("CNNCOURSE_PROFILE", "quick")
matplotlib.use("Agg")

# The "ci" profile is the default: deterministic (derandomised) so CI never flakes on a new
# example; set HYPOTHESIS_PROFILE=explore locally to search with fresh random examples.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Opt-in (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): torch on one thread.

    For modules that run thousands of tiny ops, where thread start-up would dominate (and fight
    the other test processes for the cores).
    """
    import torch  # lazily: most test modules never need torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
