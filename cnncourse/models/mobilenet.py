"""MobileNet v1 (Howard et al. 2017): depthwise-separable convolutions and a width multiplier.

Howard et al., "MobileNets: Efficient convolutional neural networks for mobile vision
applications", arXiv:1704.04861, 2017 (Table 1: the body; Table 6: width multipliers).

A standard K x K convolution from C to F channels on an H' x W' output costs
``H' W' F K^2 C`` multiply-adds. The depthwise-separable version is a K x K convolution per
input channel (``groups=C``: ``H' W' C K^2``) followed by a 1x1 "pointwise" convolution that mixes
channels (``H' W' C F``). The ratio is exactly

    (C K^2 + C F) / (F K^2 C) = 1/F + 1/K^2,

not "about 1/K^2": for K = 3, F = 64 it is 0.1267, not 0.1111.
"""

from __future__ import annotations

from collections import OrderedDict
from fractions import Fraction

import torch
from torch import nn

from .._validate import check_bool, check_int, check_positive_float
from ._common import check_model_args


def separable_cost_ratio(kernel_size: int, out_channels: int) -> Fraction:
    """Exact cost of a depthwise-separable convolution relative to a standard one.

    Parameters
    ----------
    kernel_size : int
        K (>= 1), the square kernel size.
    out_channels : int
        F (>= 1), the number of output channels.

    Returns
    -------
    fractions.Fraction
        ``1/F + 1/K^2``, independent of the input channels and the map size.
    """
    k = check_int("kernel_size", kernel_size, minimum=1)
    f = check_int("out_channels", out_channels, minimum=1)
    return Fraction(1, f) + Fraction(1, k * k)


class DepthwiseSeparableConv(nn.Module):
    """Depthwise K x K convolution (``groups=in_channels``) then pointwise 1x1 convolution.

    Parameters
    ----------
    in_channels, out_channels : int
        C and F (>= 1).
    kernel_size : int
        K (>= 1) of the depthwise convolution.
    stride : int
        Stride of the depthwise convolution (>= 1).
    padding : int, optional
        Padding of the depthwise convolution (>= 0); default ``kernel_size // 2`` ('same' for odd
        K at stride 1).
    batch_norm : bool
        MobileNet's form (default): each convolution is followed by ``BatchNorm2d`` and ReLU and
        has no bias. ``False``: plain convolutions with biases and no activation, like the
        ``DepthwiseSeparableConv`` in the course's book (2,432 parameters for C=32, F=64, K=3).

    Shapes
    ------
    ``(N, C, H, W)`` -> ``(N, F, H', W')`` with ``H' = floor((H + 2 padding - K) / stride) + 1``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        c = check_int("in_channels", in_channels, minimum=1)
        f = check_int("out_channels", out_channels, minimum=1)
        k = check_int("kernel_size", kernel_size, minimum=1)
        s = check_int("stride", stride, minimum=1)
        p = k // 2 if padding is None else check_int("padding", padding, minimum=0)
        bias = not check_bool("batch_norm", batch_norm)
        self.depthwise = nn.Conv2d(c, c, k, stride=s, padding=p, groups=c, bias=bias)
        self.bn1 = nn.BatchNorm2d(c) if batch_norm else nn.Identity()
        self.relu1 = nn.ReLU() if batch_norm else nn.Identity()
        self.pointwise = nn.Conv2d(c, f, 1, bias=bias)
        self.bn2 = nn.BatchNorm2d(f) if batch_norm else nn.Identity()
        self.relu2 = nn.ReLU() if batch_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.bn1(self.depthwise(x)))
        return self.relu2(self.bn2(self.pointwise(x)))


# (output channels, stride) of the 13 depthwise-separable layers, paper Table 1.
MOBILENET_V1_BODY = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)  # fmt: skip


def mobilenet_v1(
    num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0
) -> nn.Sequential:
    """MobileNet v1: a 3x3/2 stem and 13 depthwise-separable layers, 224 -> 7, then GAP + FC.

    At ``width_mult=1.0`` and 1000 classes: 4,231,976 parameters and 568.7M multiply-adds
    (paper: 4.2M and 569M). The width multiplier alpha thins every layer to
    ``int(alpha * channels)``, so cost falls roughly as alpha^2 (paper Table 6: 0.75 -> 2.6M /
    325M, 0.5 -> 1.3M / 149M, 0.25 -> 0.5M / 41M).

    Parameters
    ----------
    num_classes : int
        Number of outputs (>= 1).
    in_channels : int
        Input channels (>= 1).
    width_mult : float
        Width multiplier alpha, 0 < alpha <= 4; every layer keeps at least 1 channel.

    Returns
    -------
    torch.nn.Sequential
        Input ``(N, in_channels, 224, 224)``, output ``(N, num_classes)``; any input of at least
        32x32 works (global average pooling).
    """
    num_classes, in_channels = check_model_args(num_classes, in_channels)
    alpha = check_positive_float("width_mult", width_mult)
    if alpha > 4:
        raise ValueError(f"width_mult must be in (0, 4], got {width_mult}")

    def width(c: int) -> int:
        return max(1, int(c * alpha))

    c = width(32)
    layers: list[tuple[str, nn.Module]] = [
        ("conv1", nn.Conv2d(in_channels, c, 3, stride=2, padding=1, bias=False)),  # 224 -> 112
        ("bn1", nn.BatchNorm2d(c)),
        ("relu1", nn.ReLU()),
    ]
    for i, (channels, stride) in enumerate(MOBILENET_V1_BODY, start=2):
        layers.append((f"dsconv{i}", DepthwiseSeparableConv(c, width(channels), 3, stride)))
        c = width(channels)
    layers += [
        ("avgpool", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(c, num_classes)),
    ]
    return nn.Sequential(OrderedDict(layers))
