"""VGG (Simonyan and Zisserman 2015): only 3x3 convolutions, built from a config list.

Simonyan and Zisserman, "Very deep convolutional networks for large-scale image recognition",
ICLR 2015 (arXiv:1409.1556). Configurations A, B, D, E of Table 1 are VGG-11, -13, -16, -19.

Every convolution is 3x3, stride 1, padding 1 (size-preserving); every ``'M'`` is a 2x2/2 max pool
that halves the size: 224 -> 112 -> 56 -> 28 -> 14 -> 7. The original VGG had no batch norm
(that came in 2015); ``batch_norm=True`` builds the later ``vgg*_bn`` variant.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .. import shapes
from .._validate import check_bool, check_int
from ._common import check_model_args

# Numbers are output channels of a 3x3 convolution; 'M' is a 2x2 max pool.
# One configuration per line, as in the table of the VGG paper.
# fmt: off
CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
# fmt: on


def vgg_from_config(
    config: list[int | str],
    num_classes: int = 1000,
    in_channels: int = 3,
    batch_norm: bool = False,
    *,
    input_size: int = 224,
) -> nn.Sequential:
    """Build a VGG network from a list of channel counts and ``'M'`` (max pool) markers.

    Parameters
    ----------
    config : list of int or 'M'
        E.g. ``CONFIGS['vgg16']``. Layers are named ``conv{stage}_{i}`` and ``pool{stage}``
        like the paper.
    num_classes : int
        Number of outputs (>= 1).
    in_channels : int
        Input channels (>= 1).
    batch_norm : bool
        Insert ``BatchNorm2d`` between each convolution and its ReLU.
    input_size : int
        Input height = width the classifier is sized for (keyword only): ``fc6`` takes the
        final ``s x s`` map, 7x7 at the paper's 224 (``s = input_size // 2**pools``).

    Returns
    -------
    torch.nn.Sequential
        Input ``(N, in_channels, input_size, input_size)``, output ``(N, num_classes)``.

    Raises
    ------
    ValueError
        If the config is malformed or ``input_size`` is smaller than ``2**pools``.
    """
    num_classes, in_channels = check_model_args(num_classes, in_channels)
    check_bool("batch_norm", batch_norm)
    size = check_int("input_size", input_size, minimum=1)
    if not isinstance(config, (list, tuple)) or not any(isinstance(v, int) for v in config):
        raise ValueError(f"config must be a list of channel counts and 'M', got {config!r}")

    layers: list[tuple[str, nn.Module]] = []
    channels, stage, index = in_channels, 1, 1
    for v in config:
        if v == "M":
            layers.append((f"pool{stage}", nn.MaxPool2d(kernel_size=2, stride=2)))
            size = shapes.pool_output_size(size, 2, 2)  # raises once the map is below 2x2
            stage, index = stage + 1, 1
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"config entries must be positive ints or 'M', got {v!r}")
        name = f"conv{stage}_{index}"
        layers.append((name, nn.Conv2d(channels, v, kernel_size=3, padding=1)))
        if batch_norm:
            layers.append((f"bn{stage}_{index}", nn.BatchNorm2d(v)))
        layers.append((f"relu{stage}_{index}", nn.ReLU()))
        channels, index = v, index + 1
    layers += [
        ("flatten", nn.Flatten()),
        ("fc6", nn.Linear(channels * size * size, 4096)),  # ~74% of VGG-16's parameters
        ("relu6", nn.ReLU()),
        ("dropout6", nn.Dropout(0.5)),
        ("fc7", nn.Linear(4096, 4096)),
        ("relu7", nn.ReLU()),
        ("dropout7", nn.Dropout(0.5)),
        ("fc8", nn.Linear(4096, num_classes)),
    ]
    return nn.Sequential(OrderedDict(layers))


def vgg11(num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False) -> nn.Sequential:
    """VGG-11 (configuration A): 8 convolutions + 3 FC; 132,863,336 parameters at 1000 classes."""
    return vgg_from_config(CONFIGS["vgg11"], num_classes, in_channels, batch_norm)


def vgg13(num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False) -> nn.Sequential:
    """VGG-13 (configuration B): 10 convolutions + 3 FC; 133,047,848 parameters at 1000 classes."""
    return vgg_from_config(CONFIGS["vgg13"], num_classes, in_channels, batch_norm)


def vgg16(num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False) -> nn.Sequential:
    """VGG-16 (configuration D): 13 convolutions + 3 FC; 138,357,544 parameters at 1000 classes."""
    return vgg_from_config(CONFIGS["vgg16"], num_classes, in_channels, batch_norm)


def vgg19(num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False) -> nn.Sequential:
    """VGG-19 (configuration E): 16 convolutions + 3 FC; 143,667,240 parameters at 1000 classes."""
    return vgg_from_config(CONFIGS["vgg19"], num_classes, in_channels, batch_norm)
