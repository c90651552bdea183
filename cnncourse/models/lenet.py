"""LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998) and the modern variant the course trains.

LeCun et al., "Gradient-based learning applied to document recognition", Proc. IEEE 86(11), 1998.
The 1998 paper is LeNet-5; the 1989 papers describe the first, smaller LeNet.

Layer names follow the paper: C = convolution, S = subsampling, F = fully connected.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .. import shapes
from .._validate import check_bool, check_int
from ._common import check_model_args


def lenet5(num_classes: int = 10, in_channels: int = 1, *, input_size: int = 32) -> nn.Sequential:
    """LeNet-5 as it is usually quoted: 32x32 input, tanh, average pooling, 61,706 parameters.

    ``C1`` 6@5x5 -> 28x28, ``S2`` 2x2 average -> 14x14, ``C3`` 16@5x5 -> 10x10, ``S4`` -> 5x5,
    ``C5`` 120@5x5 -> 1x1, ``F6`` 84, output ``num_classes``.

    Three simplifications of the paper are made (as nearly every textbook does): ``S2``/``S4``
    are plain average pooling (the paper multiplies by a trainable coefficient and adds a trainable
    bias), ``C3`` connects to all 6 maps (the paper's sparse table gives 1,516 weights instead of
    2,416) and the output layer is linear (the paper uses Euclidean RBF units). MNIST digits
    (28x28) were padded to 32x32 in the paper.

    Parameters
    ----------
    num_classes : int
        Number of outputs (>= 1). With 10: 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706.
    in_channels : int
        Input channels (>= 1).
    input_size : int
        Input height = width the network is built for (keyword only). At the paper's 32, ``C5``
        outputs 1x1; for a larger input ``F6`` takes the flattened ``120 x s x s`` map.

    Returns
    -------
    torch.nn.Sequential
        Input ``(N, in_channels, input_size, input_size)``, output ``(N, num_classes)`` logits.

    Raises
    ------
    ValueError
        If ``input_size`` is too small for the three 5x5 convolutions and two poolings (< 32).
    """
    num_classes, in_channels = check_model_args(num_classes, in_channels)
    s = check_int("input_size", input_size, minimum=1)
    for _ in range(2):  # C1/C3 then S2/S4: the size rules raise if the map gets too small
        s = shapes.pool_output_size(shapes.conv_output_size(s, 5), 2)
    s = shapes.conv_output_size(s, 5)  # C5: 1 at the paper's 32x32
    return nn.Sequential(
        OrderedDict(
            [
                ("C1", nn.Conv2d(in_channels, 6, kernel_size=5)),  # 32 -> 28
                ("tanh1", nn.Tanh()),
                ("S2", nn.AvgPool2d(kernel_size=2, stride=2)),  # 28 -> 14
                ("C3", nn.Conv2d(6, 16, kernel_size=5)),  # 14 -> 10
                ("tanh3", nn.Tanh()),
                ("S4", nn.AvgPool2d(kernel_size=2, stride=2)),  # 10 -> 5
                ("C5", nn.Conv2d(16, 120, kernel_size=5)),  # 5 -> 1: a conv that acts as an FC
                ("tanh5", nn.Tanh()),
                ("flatten", nn.Flatten()),
                ("F6", nn.Linear(120 * s * s, 84)),
                ("tanh6", nn.Tanh()),
                ("output", nn.Linear(84, num_classes)),
            ]
        )
    )


def lenet5_modern(
    num_classes: int = 10, in_channels: int = 1, batch_norm: bool = False
) -> nn.Sequential:
    """LeNet-5 with today's defaults for 28x28 MNIST: ReLU, max pooling, 'same' first conv.

    ``conv1`` 6@5x5 padding 2 -> 28x28, max pool -> 14x14, ``conv2`` 16@5x5 -> 10x10,
    max pool -> 5x5, flatten 400, ``fc1`` 120, ``fc2`` 84, ``fc3`` ``num_classes``.
    Padding the first convolution plays the role of the paper's padding of MNIST to 32x32, so the
    layer sizes (and the 61,706 parameters without batch norm) are those of :func:`lenet5`.

    Parameters
    ----------
    num_classes : int
        Number of outputs (>= 1).
    in_channels : int
        Input channels (>= 1).
    batch_norm : bool
        Add ``BatchNorm2d`` after each convolution (the convolutions then drop their bias).

    Returns
    -------
    torch.nn.Sequential
        Input ``(N, in_channels, 28, 28)``, output ``(N, num_classes)`` logits.
    """
    num_classes, in_channels = check_model_args(num_classes, in_channels)
    check_bool("batch_norm", batch_norm)

    def conv_block(name: str, c_in: int, c_out: int, padding: int) -> list[tuple[str, nn.Module]]:
        layers = [
            (name, nn.Conv2d(c_in, c_out, kernel_size=5, padding=padding, bias=not batch_norm))
        ]
        if batch_norm:
            layers.append((f"bn{name[-1]}", nn.BatchNorm2d(c_out)))
        layers.append((f"relu{name[-1]}", nn.ReLU()))
        layers.append((f"pool{name[-1]}", nn.MaxPool2d(kernel_size=2, stride=2)))
        return layers

    return nn.Sequential(
        OrderedDict(
            [
                *conv_block("conv1", in_channels, 6, padding=2),  # 28 -> 28 -> 14
                *conv_block("conv2", 6, 16, padding=0),  # 14 -> 10 -> 5
                ("flatten", nn.Flatten()),
                ("fc1", nn.Linear(16 * 5 * 5, 120)),
                ("relu3", nn.ReLU()),
                ("fc2", nn.Linear(120, 84)),
                ("relu4", nn.ReLU()),
                ("fc3", nn.Linear(84, num_classes)),
            ]
        )
    )


def lenet5_parameters(num_classes: int = 10, in_channels: int = 1) -> int:
    """Closed-form parameter count of :func:`lenet5` (weights + biases, layer by layer).

    Returns
    -------
    int
        ``(25 C + 1) 6 + (150 + 1) 16 + (400 + 1) 120 + (120 + 1) 84 + (84 + 1) K``.
    """
    k = check_int("num_classes", num_classes, minimum=1)
    c = check_int("in_channels", in_channels, minimum=1)
    return (25 * c + 1) * 6 + (150 + 1) * 16 + (400 + 1) * 120 + (120 + 1) * 84 + (84 + 1) * k
