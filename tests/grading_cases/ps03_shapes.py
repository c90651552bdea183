"""Realistic wrong submissions for ps03_shapes."""

from . import Case, edited

A = "ps03_shapes"

WRONG = [
    Case(
        "wrong_padding_once",
        edited(A, ("q1_answer", "(size + 2 * padding - span)", "(size + padding - span)")),
        failing={"q1a_output_size", "q1b_output_size_edge_cases"},
        feedback=("conv_output_size(32, 5, padding=2)", "expected 32, got 30"),
        description="adds the padding on one side only",
    ),
    Case(
        "wrong_receptive_field_no_jump",
        edited(A, ("q4_answer", "size += (kernel_size - 1) * jump", "size += kernel_size - 1")),
        failing={"q4_receptive_field"},
        feedback=("receptive_field_size of a ResNet-like stem",),
        description="forgets the jump: right for stride-1 stacks, wrong after a strided layer",
    ),
    Case(
        "wrong_same_is_same",
        edited(
            A,
            ("q2_answer", "n_out_strided = 16", "n_out_strided = 32"),
            ("q2_answer", "math.ceil(size / stride)", "size"),
        ),
        failing={"q2_same_padding"},
        description="believes the lecture: 'same' padding keeps the size for any stride",
    ),
]
