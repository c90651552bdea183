"""Realistic wrong submissions for ps04_pooling."""

from . import Case, edited, replaced

A = "ps04_pooling"

SHORTCUT_MAX_POOL = """from cnncourse import pooling


def max_pool2d(x, kernel_size, stride=None):
    return pooling.max_pool2d(x, kernel_size, stride)
"""

WRONG = [
    Case(
        "wrong_pool_ignores_stride",
        edited(
            A,
            (
                "q2_answer",
                "x[:, :, i * s : i * s + k, j * s : j * s + k]",
                "x[:, :, i : i + k, j : j + k]",
            ),
        ),
        failing={"q2a_max_pool_example", "q2b_max_pool_general"},
        feedback=("max_pool2d(arange(1, 17), 2)",),
        description="max pooling that ignores the stride (windows start at every pixel)",
    ),
    Case(
        "wrong_backward_last_tie",
        edited(
            A,
            (
                "q3_answer",
                "np.unravel_index(np.argmax(window), window.shape)",
                "np.unravel_index(window.size - 1 - np.argmax(window.ravel()[::-1]), window.shape)",
            ),
        ),
        failing={"q3b_backward_ties_overlap"},
        feedback=("max_pool2d_backward when a window's values tie",),
        description="on ties the gradient goes to the last maximum instead of the first",
    ),
    Case(
        "wrong_backward_overwrites",
        edited(A, ("q3_answer", "] += grad_out[b, ch, i, j]", "] = grad_out[b, ch, i, j]")),
        failing={"q3b_backward_ties_overlap"},
        feedback=("overlapping windows",),
        description="overwrites instead of adding when an element wins several windows",
    ),
    Case(
        "wrong_adaptive_floor",
        edited(A, ("q4_answer", "math.ceil((i + 1) * n / m)", "((i + 1) * n) // m")),
        failing={"q4a_adaptive_ranges"},
        description="rounds the window ends down instead of up",
    ),
    Case(
        "shortcut_reference_max_pool",
        replaced(A, "q2_answer", SHORTCUT_MAX_POOL),
        failing={"q2a_max_pool_example", "q2b_max_pool_general"},
        feedback=("ShortcutError", "cnncourse.pooling.max_pool2d"),
        description="max_pool2d calls the library's reference (shortcut policy)",
    ),
]
