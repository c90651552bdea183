"""Realistic wrong submissions for ps05_architectures."""

from . import Case, edited

A = "ps05_architectures"

WRONG = [
    Case(
        "wrong_relu_before_add",
        edited(
            A,
            (
                "q1_answer",
                "return torch.relu(out + self.shortcut(x))",
                "return torch.relu(out) + self.shortcut(x)",
            ),
        ),
        failing={"q1c_block_matches_reference"},
        feedback=("BasicBlock(8, 8, stride=1): output",),
        description="applies the last ReLU before the addition instead of after it",
    ),
    Case(
        "wrong_no_projection",
        edited(
            A,
            (
                "q1_answer",
                "        if stride != 1 or in_channels != channels:",
                "        if False:  # the shortcut is always the identity",
            ),
        ),
        failing={"q1a_block_parameters", "q1b_block_shapes", "q1c_block_matches_reference"},
        feedback=("RuntimeError",),
        description="always uses the identity shortcut, even when the stride or the width changes",
    ),
    Case(
        "wrong_lecture_ratio",
        edited(
            A,
            (
                "q4_answer",
                "return 1 / out_channels + 1 / kernel_size**2",
                "return 1 / kernel_size**2",
            ),
        ),
        failing={"q4b_separable_ratio"},
        feedback=("separable_cost_ratio(3, 64)",),
        description="believes the lecture: the cost ratio is 1/k**2",
    ),
]
