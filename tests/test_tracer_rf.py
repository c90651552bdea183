"""tracer.trace's receptive-field column through residual additions and concatenations,
checked against a brute-force receptive field: the input pixels whose gradient is non-zero."""

import pytest
import torch
from torch import nn

from cnncourse import models, tracer


def _positive(model: nn.Module) -> nn.Module:
    """Make every path count: positive weights, average instead of max pooling, eval mode.

    With positive inputs every value stays positive, so no ReLU cuts a path and no sum cancels;
    a max pool's gradient reaches one pixel per window, an average pool's (same window) all.
    """
    for name, child in list(model.named_children()):
        if isinstance(child, nn.MaxPool2d):
            setattr(
                model,
                name,
                nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode),
            )
        else:
            _positive(child)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand_like(p) * 0.1 + 0.01)
    return model.eval()


def _brute_force_rf(out: torch.Tensor, x: torch.Tensor):
    """(height, width) of the input region that moves the centre cell of ``out``.

    Returns None when that region touches the border (the field is clipped there).
    """
    h, w = out.shape[-2:]
    (grad,) = torch.autograd.grad(out[0, :, h // 2, w // 2].sum(), x, retain_graph=True)
    rows = torch.nonzero(grad[0].abs().sum(0).sum(1))[:, 0]
    cols = torch.nonzero(grad[0].abs().sum(0).sum(0))[:, 0]
    if rows[0] == 0 or cols[0] == 0 or rows[-1] == x.shape[-2] - 1 or cols[-1] == x.shape[-1] - 1:
        return None
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 2, 3, padding=1)
        self.b = nn.Conv2d(2, 2, 5, padding=2, dilation=1)
        self.down = nn.Conv2d(2, 2, 3, stride=2, padding=1)
        self.skip = nn.Conv2d(2, 2, 1, stride=2)
        self.after = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        y = torch.relu(self.a(x)) + x  # a residual addition of two different fields
        y = torch.cat([self.b(y), y], dim=1)[:, :2]  # a concatenation
        y = self.down(y) + self.skip(y)  # strided branches with the same jump
        return self.after(y)


def _compare(model, size, names):
    model = _positive(model)
    x = torch.rand(1, next(model.parameters()).shape[1], size, size) + 0.5
    table = tracer.trace(model, tuple(x.shape))
    # one forward pass with gradients, every output of the named layers kept, in call order
    outputs = {name: [] for name in names}
    modules = dict(model.named_modules())
    handles = [
        modules[n].register_forward_hook(lambda m, i, o, n=n: outputs[n].append(o)) for n in names
    ]
    x.requires_grad_(True)
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    seen, compared = {}, 0
    for row in table:
        occurrence = seen.get(row.name, 0)
        seen[row.name] = occurrence + 1
        if row.name not in names or row.output_shape is None or len(row.output_shape) != 4:
            continue
        expected = _brute_force_rf(outputs[row.name][occurrence], x)
        if expected is None:
            continue
        assert row.receptive_field == expected, f"{row.name}: {row.receptive_field} != {expected}"
        compared += 1
    return compared


def test_receptive_field_through_additions_and_concatenation():
    assert _compare(Residual(), 41, {"a", "b", "down", "skip", "after"}) == 5


def test_after_a_residual_block_the_next_layer_has_a_receptive_field():
    # before the fix, every layer fed by `out + identity` showed None ("-" in the table)
    table = tracer.trace(Residual(), (1, 2, 41, 41))
    assert all(row.receptive_field is not None for row in table)


@pytest.mark.parametrize("name", ["resnet18", "googlenet"])
def test_receptive_field_of_real_models_matches_gradients(name):
    ctor, _ = models.MODELS[name]
    torch.manual_seed(0)
    model = ctor()
    convs = {n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    # every conv whose centre field fits in a 128-pixel input is compared
    assert _compare(model, 128, convs) >= 10


def test_resnet18_rows_are_all_filled_and_end_at_the_published_field():
    ctor, _ = models.MODELS["resnet18"]
    with torch.device("meta"):
        model = ctor()
    table = tracer.trace(model, (1, 3, 224, 224))
    spatial = [r for r in table if r.output_shape and len(r.output_shape) == 4]
    assert all(r.receptive_field is not None for r in spatial[:-1])  # all but the global pool
    assert [r for r in spatial if r.name == "layer4.1.conv2"][0].receptive_field == (435, 435)
