"""Execute notebooks in place on a fresh kernel, in the quick profile, storing widget state.

Usage: python scripts/execute_notebooks.py chapters/01_convolution.ipynb [more.ipynb ...]

This is how committed outputs are produced; nbval then checks they are reproducible.
"""

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: int = 900) -> float:
    nb = nbformat.read(path, as_version=4)
    os.environ["CNNCOURSE_PROFILE"] = "quick"
    # The same thread count as `make test` (one per worker): float results of training depend
    # on it, and nbval compares the stored outputs with a run under that setting.
    os.environ["OMP_NUM_THREADS"] = "1"
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        # Keep kernel log lines (ipykernel 7's TCP warning) out of the cell outputs.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    client.execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        seconds = execute(Path(arg))
        print(f"{arg}: executed in {seconds:.1f} s")
