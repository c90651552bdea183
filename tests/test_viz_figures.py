"""Figure defaults (viz.setup), readable confusion matrices and box kinds with two cues."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from cnncourse import viz  # noqa: E402


def test_setup_sets_the_layout_size_and_readable_fonts():
    with plt.rc_context():
        viz.setup()
        assert plt.rcParams["figure.dpi"] == viz.FIGURE_DPI
        sizes = [plt.rcParams[k] for k in viz.FONT_SIZES]
        # shown at ~85 % when a figure is wider than the page: still >= 8 pt
        assert min(float(s) for s in sizes) * 0.85 >= 8


def test_confusion_matrix_numbers_stay_readable_with_ten_classes():
    cm = np.arange(100).reshape(10, 10)
    fig, ax = plt.subplots()
    viz.plot_confusion_matrix(cm, ax=ax)
    numbers = [t for t in ax.texts if t.get_text().isdigit()]
    assert len(numbers) == 100 and min(t.get_fontsize() for t in numbers) >= 8.5
    plt.close(fig)


def test_box_kinds_differ_in_colour_line_style_and_tag():
    fig, ax = plt.subplots()
    ax.imshow(np.zeros((20, 20)))
    boxes = np.array([[1, 1, 5, 5], [6, 6, 9, 9], [10, 10, 15, 15]])
    kinds = ["true positive", "false positive", "missed"]
    viz.draw_boxes(ax, boxes, [3, 4, 5], kinds=kinds)
    colours = [to_hex(p.get_edgecolor()) for p in ax.patches]
    styles = [p.get_linestyle() for p in ax.patches]
    assert len(set(colours)) == 3 and len(set(styles)) == 3
    assert colours == [viz.BOX_STYLES[k]["color"].lower() for k in kinds]
    assert [t.get_text() for t in ax.texts] == ["TP 3", "FP 4", "missed 5"]
    with pytest.raises(ValueError, match="kinds"):
        viz.draw_boxes(ax, boxes, kinds=["true positive"])
    with pytest.raises(ValueError, match="kinds"):
        viz.draw_boxes(ax, boxes[:1], kinds=["maybe"])
    plt.close(fig)
