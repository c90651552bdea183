"""Realistic wrong submissions for ps06_training."""

from . import Case, edited

A = "ps06_training"

WRONG = [
    Case(
        "wrong_no_zero_grad",
        edited(A, ("q1_answer", "    optimizer.zero_grad()\n", "")),
        failing={"q1b_two_steps_train_mode"},
        feedback=("after two steps",),
        description="never clears the gradients: the first step is right, the second adds old gradients",
    ),
    Case(
        "wrong_continuous_decay",
        edited(
            A,
            (
                "q2_answer",
                "return lr0 * drop ** (epoch // every)",
                "return lr0 * drop ** (epoch / every)",
            ),
        ),
        failing={"q2a_step_decay"},
        feedback=("step_decay at epochs 0, 9, 10, 19, 20, 35",),
        description="decays continuously (epoch / every) instead of in steps (epoch // every)",
    ),
    Case(
        "wrong_f1_nan",
        edited(
            A,
            (
                "q3_answer",
                "return np.divide(2 * precision * recall, total, out=np.zeros_like(tp), where=total > 0)",
                "return 2 * precision * recall / total",
            ),
        ),
        failing={"q3b_f1"},
        feedback=("f1_per_class when classes are missing",),
        description="divides by P + R without a guard: NaN for a class that is never predicted",
    ),
    Case(
        "wrong_smoothing_k_minus_1",
        edited(
            A,
            (
                "q4_answer",
                "q = torch.full_like(log_p, eps / k)",
                "q = torch.full_like(log_p, eps / (k - 1))",
            ),
            (
                "q4_answer",
                "q[torch.arange(len(target)), target] += 1 - eps",
                "q[torch.arange(len(target)), target] = 1 - eps",
            ),
        ),
        failing={"q4a_label_smoothing"},
        description="spreads eps over the K - 1 wrong classes only (a different smoothing than torch's)",
    ),
]
