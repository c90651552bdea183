"""How many CPU threads torch uses for training, chosen for the machine as it is now.

PyTorch uses one thread per core by default. The course's models are small, so each thread gets
a little work and then waits for the others at a barrier. On an idle machine that pays off; when
other programs keep the cores busy, a thread that lost its core makes all the others wait, and
training runs many times slower (measured: ``python benchmarks/threads.py``).

:func:`configure_threads` (called by :func:`cnncourse.train.fit` when training starts) therefore
gives torch only the cores that are idle right now, at least one, in the ``quick`` profile on
the CPU. It leaves the setting alone when you chose one: ``OMP_NUM_THREADS`` (the tests and the
committed notebook outputs use ``OMP_NUM_THREADS=1``, so their results stay reproducible) or
``CNNCOURSE_THREADS=N`` (N threads, whatever the load), and on a GPU or in the ``full`` profile.
"""

from __future__ import annotations

import os
import time

import torch

from .._validate import check_int


def busy_cores(interval: float = 0.1) -> float:
    """How many cores other work keeps busy now (0 .. cores), from ``/proc/stat`` over ``interval`` s.

    Where ``/proc/stat`` does not exist (macOS, Windows), the 1-minute load average is used.
    """

    def snapshot():
        with open("/proc/stat") as f:
            fields = [float(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
        return sum(fields), idle

    cores = os.cpu_count() or 1
    try:
        total0, idle0 = snapshot()
        time.sleep(interval)
        total1, idle1 = snapshot()
    except (OSError, ValueError, IndexError):
        try:
            return min(float(cores), os.getloadavg()[0])
        except OSError:
            return 0.0
    span = total1 - total0
    return 0.0 if span <= 0 else cores * (1.0 - (idle1 - idle0) / span)


def choose_threads(cores: int, busy: float) -> int:
    """Threads for training: the idle cores, rounded to the nearest whole core, at least 1.

    >>> choose_threads(2, 0.1), choose_threads(2, 0.7), choose_threads(2, 2.0), choose_threads(8, 3.2)
    (2, 1, 1, 5)
    """
    cores = check_int("cores", cores, minimum=1)
    if not 0 <= busy:
        raise ValueError(f"busy must be a number of busy cores >= 0, got {busy!r}")
    return max(1, min(cores, round(cores - busy)))


def configure_threads(
    device: torch.device | str | None = None, profile_name: str | None = None
) -> int:
    """Set ``torch.set_num_threads`` for training now; return the thread count in use.

    In the ``quick`` profile on the CPU: ``CNNCOURSE_THREADS`` when set, else the number of
    idle cores (:func:`choose_threads` of :func:`busy_cores`); unchanged when ``OMP_NUM_THREADS``
    is set, on a GPU, or in the ``full`` profile.
    """
    from .profiles import profile

    wanted = os.environ.get("CNNCOURSE_THREADS")
    if wanted is not None:
        try:
            n = int(wanted)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"CNNCOURSE_THREADS must be a whole number >= 1, got {wanted!r}")
        torch.set_num_threads(n)
        return n
    on_cpu = device is None or torch.device(device).type == "cpu"
    if "OMP_NUM_THREADS" in os.environ or not on_cpu or profile(profile_name) != "quick":
        return torch.get_num_threads()
    n = choose_threads(os.cpu_count() or 1, busy_cores())
    torch.set_num_threads(n)
    return n
