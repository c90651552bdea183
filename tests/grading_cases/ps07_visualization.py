"""Realistic wrong submissions for ps07_visualization."""

from . import Case, edited

A = "ps07_visualization"

WRONG = [
    Case(
        "wrong_saliency_signed",
        edited(A, ("q1_answer", "    return grad.abs()", "    return grad")),
        failing={"q1_saliency"},
        feedback=("saliency(model, x, [3, 7])",),
        description="returns the signed gradient instead of its magnitude",
    ),
    Case(
        "wrong_gradcam_sum",
        edited(A, ("q2_answer", "return grads.mean(dim=(2, 3))", "return grads.sum(dim=(2, 3))")),
        failing={"q2a_gradcam_weights", "q2b_grad_cam"},
        feedback=("gradcam_weights(features, head, x, [3, 7])",),
        description="sums the gradients over positions instead of averaging them",
    ),
    Case(
        "wrong_gradcam_no_relu",
        edited(
            A,
            (
                "q2_answer",
                "cam = torch.relu((weights[:, :, None, None] * a).sum(dim=1, keepdim=True))",
                "cam = (weights[:, :, None, None] * a).sum(dim=1, keepdim=True)",
            ),
        ),
        failing={"q2b_grad_cam"},
        description="forgets the ReLU: negative evidence shows up in the map",
    ),
    Case(
        "wrong_occlusion_score",
        edited(
            A,
            (
                "q4_answer",
                "drop = base - model(occluded)[0, target]",
                "drop = model(occluded)[0, target]",
            ),
        ),
        failing={"q4_occlusion"},
        description="records the occluded score instead of the drop",
    ),
]
