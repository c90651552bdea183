"""Realistic wrong submissions for ps08_detection."""

from . import Case, edited, replaced

A = "ps08_detection"

SHORTCUT_NMS = """from cnncourse import detect


def nms(boxes, scores, iou_threshold):
    return detect.nms(boxes, scores, iou_threshold)
"""

WRONG = [
    Case(
        "wrong_nms_no_sort",
        edited(
            A,
            (
                "q3_answer",
                'order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")',
                "order = np.arange(len(boxes))",
            ),
        ),
        failing={"q3b_nms_general"},
        feedback=("nms on 12 random boxes with unsorted scores",),
        description="NMS that does not sort: right when the boxes come best first, wrong otherwise",
    ),
    Case(
        "wrong_iou_empty_boxes",
        edited(
            A,
            (
                "q2_answer",
                "return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)",
                "return inter / union",
            ),
        ),
        failing={"q2b_iou_edge_cases"},
        feedback=("box_iou with empty boxes divides 0 by 0",),
        description="divides by the union without a guard: NaN (and a warning) for empty boxes",
    ),
    Case(
        "wrong_nms_suppresses_at_threshold",
        edited(
            A,
            (
                "q3_answer",
                "order = rest[overlap <= iou_threshold]",
                "order = rest[overlap < iou_threshold]",
            ),
        ),
        failing={"q3b_nms_general"},
        feedback=("nms at IoU == threshold (kept)",),
        description="drops boxes whose IoU equals the threshold",
    ),
    Case(
        "wrong_ap_not_interpolated",
        edited(
            A,
            (
                "q4_answer",
                "return float(np.sum(steps * interpolated))",
                "return float(np.sum(steps * precision))",
            ),
        ),
        failing={"q4a_average_precision"},
        feedback=("average_precision([T, F, T, T, F], 4)",),
        description="area under the raw (zig-zag) precision instead of the interpolated one",
    ),
    Case(
        "shortcut_reference_nms",
        replaced(A, "q3_answer", SHORTCUT_NMS),
        failing={"q3a_nms_sorted", "q3b_nms_general"},
        feedback=("ShortcutError", "cnncourse.detect.nms"),
        description="nms calls the library's reference (shortcut policy)",
    ),
]
