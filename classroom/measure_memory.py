"""Peak memory of one student's kernel running a chapter: the number behind the sizing table.

Executes a chapter on a fresh kernel (like ``scripts/execute_notebooks.py``, nothing is written
back) and reads the kernel's peak resident set size (``VmHWM`` in ``/proc/<pid>/status``, Linux)
after the last cell, before the kernel shuts down:

    OMP_NUM_THREADS=1 CNNCOURSE_PROFILE=quick .venv/bin/python classroom/measure_memory.py \\
        chapters/06_training.ipynb

It prints one line per chapter: wall time, the kernel's peak RSS and its RSS at the end.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def measure(path: Path, timeout: int = 1800) -> dict:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    start = time.perf_counter()
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        peak = _status_kib(pid, "VmHWM")
        end = _status_kib(pid, "VmRSS")
    return {"seconds": time.perf_counter() - start, "peak_mib": peak / 1024, "end_mib": end / 1024}


if __name__ == "__main__":
    print(
        f"profile {os.environ.get('CNNCOURSE_PROFILE', 'auto')}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    for arg in sys.argv[1:]:
        m = measure(Path(arg))
        print(
            f"{arg}: {m['seconds']:.0f} s, kernel peak RSS {m['peak_mib']:.0f} MiB, "
            f"at the end {m['end_mib']:.0f} MiB"
        )
