"""Realistic wrong submissions for ps01_convolution."""

from . import Case, edited

A = "ps01_convolution"

WRONG = [
    Case(
        "wrong_off_by_one",
        edited(
            A,
            (
                "q2_answer",
                "x.shape[0] - kh + 1, x.shape[1] - kw + 1",
                "x.shape[0] - kh, x.shape[1] - kw",
            ),
        ),
        failing={"q2a_corr2d_example", "q2b_corr2d_general", "q3_convolve2d"},
        feedback=("expected shape (2, 2), got shape (1, 1)",),
        description="corr2d's output size is off by one (H - kh instead of H - kh + 1)",
    ),
    Case(
        "wrong_ignores_stride",
        edited(
            A,
            (
                "q4_answer",
                "xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]",
                "xp[:, :, i : i + kh, j : j + kw]",
            ),
        ),
        failing={"q4c_conv2d_stride_padding"},
        feedback=("conv2d(x, w, stride=2, padding=1)",),
        description="conv2d computes the strided output size but slides the window one pixel at a time",
    ),
    Case(
        "wrong_lecture_formula",
        edited(
            A,
            (
                "q5_answer",
                "(kh * kw * in_channels + (1 if bias else 0)) * out_channels",
                "kh * kw * in_channels",
            ),
            ("q5_answer", 'wrong_row = "C"', 'wrong_row = "D"'),
        ),
        failing={"q5a_conv_params", "q5b_lecture_table"},
        feedback=("expected 1160, got 144",),
        description="uses the lecture's k*k*D formula and blames the wrong row",
    ),
    Case(
        "wrong_no_flip",
        edited(A, ("q1_answer", "y_conv = [2, -2, 5, 2, -1, 6]", "y_conv = [2, 0, 2, 4, 2, 2]")),
        failing={"q1a_full_convolution"},
        description="computes the full convolution without flipping the kernel",
    ),
]
