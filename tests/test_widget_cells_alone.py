"""Each explorer cell of chapters 2, 3, 5, 7 and 8 runs on its own in a fresh kernel.

That is what a student does after a kernel restart: run the widget cell, not the cells above.
The cell must import what it needs and find its model without retraining (its own checkpoint in
runs/, else the bundled reference).
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
WIDGET_CELLS = [
    ("02_filters", "filter_lab.FilterLab("),
    ("03_padding_stride", "ShapeTracer("),
    ("05_architectures", "architecture_explorer.ArchitectureExplorer("),
    ("07_visualization", "fmaps.FeatureMapBrowser("),
    ("07_visualization", "gradcam_explorer.GradCamExplorer("),
    ("08_detection", "detection_explorer.DetectionExplorer("),
]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.mark.parametrize(("chapter", "marker"), WIDGET_CELLS, ids=[m for _, m in WIDGET_CELLS])
def test_widget_cell_runs_alone_in_a_fresh_kernel(chapter, marker, tmp_path):
    nb = nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"{chapter}: {len(cells)} cells contain {marker!r}"
    alone = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cells[0].source)])
    # a folder next to an empty runs/: the cell must fall back to the bundled reference
    work = tmp_path / "chapters"
    work.mkdir()
    client = NotebookClient(
        alone,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(work)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    client.execute()  # raises CellExecutionError on any exception
    outputs = alone.cells[0].outputs
    assert any(WIDGET_VIEW in o.get("data", {}) for o in outputs), outputs
    assert not any(o.get("name") == "stderr" for o in outputs), outputs
