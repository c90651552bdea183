"""Squeeze-and-excitation (Hu, Shen, Sun 2018): channel attention inside residual blocks.

Hu et al., "Squeeze-and-excitation networks", CVPR 2018 (arXiv:1709.01507).

An SE block looks at the whole feature map once (global average pooling: the *squeeze*), passes
the per-channel means through a small bottleneck MLP (C -> C/r -> C, ReLU then sigmoid: the
*excitation*) and rescales each channel by its gate in (0, 1). In an SE-ResNet it sits on the
residual branch, just before the addition. With r = 16 it adds about 10% parameters to ResNet-50
(25,557,032 -> 28,088,024) and well under 1% multiply-adds.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from .._validate import check_int
from .resnet import BasicBlock, Bottleneck, CifarResNet, ResNet


class SEBlock(nn.Module):
    """Squeeze-and-excitation: ``x * sigmoid(W2 relu(W1 mean_hw(x)))``, per channel.

    Parameters
    ----------
    channels : int
        Number of channels C (>= 1).
    reduction : int
        Bottleneck ratio r (>= 1, <= C); the hidden layer has ``C // r`` units. Both FC layers
        have biases (as the paper's released models do): ``2 C^2 / r + C / r + C`` parameters.

    Shapes
    ------
    ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        channels = check_int("channels", channels, minimum=1)
        reduction = check_int("reduction", reduction, minimum=1)
        if reduction > channels:
            raise ValueError(
                f"reduction must be <= channels ({channels}) so the bottleneck has at least one "
                f"unit, got {reduction}"
            )
        hidden = channels // reduction
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(channels, hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, channels)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.flatten(self.squeeze(x), 1)  # (N, C): one number per channel
        s = self.gate(self.fc2(self.relu(self.fc1(z))))  # (N, C) in (0, 1)
        return x * s[:, :, None, None]


def _se(reduction: int):
    return partial(SEBlock, reduction=check_int("reduction", reduction, minimum=1))


def se_resnet18(num_classes: int = 1000, in_channels: int = 3, reduction: int = 16) -> ResNet:
    """ResNet-18 with an :class:`SEBlock` in every basic block (11,778,592 parameters)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_channels, attention=_se(reduction))


def se_resnet34(num_classes: int = 1000, in_channels: int = 3, reduction: int = 16) -> ResNet:
    """ResNet-34 with an :class:`SEBlock` in every basic block."""
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_channels, attention=_se(reduction))


def se_resnet50(num_classes: int = 1000, in_channels: int = 3, reduction: int = 16) -> ResNet:
    """SE-ResNet-50 (the paper's main model): 28,088,024 parameters at 1000 classes.

    Parameters
    ----------
    num_classes : int
        Number of outputs (>= 1).
    in_channels : int
        Input channels (>= 1).
    reduction : int
        SE bottleneck ratio r (the paper uses 16).

    Returns
    -------
    ResNet
        Input ``(N, in_channels, 224, 224)``, output ``(N, num_classes)``.
    """
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_channels, attention=_se(reduction))


def se_resnet101(num_classes: int = 1000, in_channels: int = 3, reduction: int = 16) -> ResNet:
    """SE-ResNet-101: bottleneck blocks ``[3, 4, 23, 3]`` with SE blocks."""
    return ResNet(Bottleneck, (3, 4, 23, 3), num_classes, in_channels, attention=_se(reduction))


def se_resnet152(num_classes: int = 1000, in_channels: int = 3, reduction: int = 16) -> ResNet:
    """SE-ResNet-152: bottleneck blocks ``[3, 8, 36, 3]`` with SE blocks."""
    return ResNet(Bottleneck, (3, 8, 36, 3), num_classes, in_channels, attention=_se(reduction))


def se_resnet20(num_classes: int = 10, in_channels: int = 3, reduction: int = 16) -> CifarResNet:
    """CIFAR ResNet-20 with SE blocks (16-channel stages get a 1-unit bottleneck at r = 16)."""
    return CifarResNet(20, num_classes, in_channels, "A", attention=_se(reduction))
