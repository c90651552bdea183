"""Realistic wrong submissions for ps02_filters."""

from . import Case, edited

A = "ps02_filters"

WRONG = [
    Case(
        "wrong_channel_mean",
        edited(
            A,
            (
                "q2_answer",
                "return rgb @ np.array([0.299, 0.587, 0.114])",
                "return rgb.mean(axis=-1)",
            ),
        ),
        failing={"q2a_gray_float", "q2b_gray_uint8"},
        feedback=("to_gray on red, green, blue and gray pixels",),
        description="averages the three channels instead of using the luma weights",
    ),
    Case(
        "wrong_unnormalised_gaussian",
        edited(A, ("q3_answer", "return g / g.sum()", "return g / (np.sqrt(2 * np.pi) * sigma)")),
        failing={"q3a_gaussian"},
        feedback=("gaussian_kernel(1.0, 2)",),
        description="uses the continuous formula's 1 / (sqrt(2 pi) sigma) instead of dividing by the sum",
    ),
    Case(
        "wrong_l1_magnitude",
        edited(A, ("q4_answer", "return np.hypot(gx, gy)", "return np.abs(gx) + np.abs(gy)")),
        failing={"q4a_magnitude"},
        description="|gx| + |gy| instead of sqrt(gx**2 + gy**2): right on the vertical step, wrong on the photo",
    ),
    Case(
        "wrong_direction_swapped",
        edited(A, ("q4_answer", "return np.arctan2(gy, gx)", "return np.arctan2(gx, gy)")),
        failing={"q4b_direction"},
        feedback=("gradient_direction(ramp)",),
        description="atan2(gx, gy): the arguments of numpy.arctan2 swapped",
    ),
]
