"""ResNet (He, Zhang, Ren, Sun 2016): residual blocks, for ImageNet and for CIFAR-sized inputs.

He et al., "Deep residual learning for image recognition", CVPR 2016 (arXiv:1512.03385).

- :class:`BasicBlock`: 3x3 -> 3x3, used by ResNet-18/34 and the CIFAR ResNets.
- :class:`Bottleneck`: 1x1 (reduce) -> 3x3 -> 1x1 (expand 4x), used by ResNet-50/101/152.
  As in torchvision ("ResNet v1.5") the stride of a downsampling block sits on the 3x3
  convolution; the paper put it on the first 1x1. The parameter count is the same;
  :func:`as_resnet_v1` moves the stride back to give the paper's v1 network.
- ImageNet models: 7x7/2 stem + 3x3/2 max pool, four stages (64, 128, 256, 512 base channels),
  global average pooling, one FC layer. Parameters at 1000 classes match torchvision exactly:
  ResNet-18 11,689,512; -34 21,797,672; -50 25,557,032; -101 44,549,160; -152 60,192,808.
- CIFAR models (paper section 4.2): a 3x3 stem with 16 channels, three stages of ``n`` basic
  blocks with 16, 32, 64 channels (depth ``6n + 2``) and parameter-free shortcuts (option A):
  ResNet-20 has 0.27M parameters.
- :func:`residual_stack`: a narrow, pooling-free stack of 3x3 convolutions with or without skip
  connections, for the chapter's "why residuals help" experiment.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_bool, check_choice, check_int, check_module
from ._common import check_model_args

# An optional factory for a channel-attention module (e.g. senet.SEBlock) applied to the residual
# branch before the addition: attention(channels) -> nn.Module.
Attention = Callable[[int], nn.Module] | None


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a batch norm follows)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias: channel mixing, or a projection shortcut."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """``relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))``.

    Shapes: ``(N, in_channels, H, W)`` -> ``(N, channels, ceil(H / stride), ceil(W / stride))``.
    The shortcut is the identity when shapes agree, otherwise ``shortcut`` (a projection
    ``conv1x1 + bn``, made here when ``shortcut`` is None).
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        shortcut: nn.Module | None = None,
        attention: Attention = None,
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.attention = attention(channels) if attention is not None else None
        if shortcut is None and (stride != 1 or in_channels != channels):
            shortcut = nn.Sequential(
                conv1x1(in_channels, channels, stride), nn.BatchNorm2d(channels)
            )
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.attention is not None:
            out = self.attention(out)
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """``relu(bn(conv1x1(relu(bn(conv3x3(relu(bn(conv1x1(x))))))) + shortcut(x))``.

    The first 1x1 reduces to ``channels``, the 3x3 (carrying the stride) works at that width and
    the last 1x1 expands to ``4 * channels``. Shapes: ``(N, in_channels, H, W)`` ->
    ``(N, 4 * channels, ceil(H / stride), ceil(W / stride))``.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        shortcut: nn.Module | None = None,
        attention: Attention = None,
    ) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = conv1x1(in_channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.attention = attention(out_channels) if attention is not None else None
        if shortcut is None and (stride != 1 or in_channels != out_channels):
            shortcut = nn.Sequential(
                conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels)
            )
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.attention is not None:
            out = self.attention(out)
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ImageNet-style ResNet; see :func:`resnet18` ... :func:`resnet152`.

    Shapes: ``(N, in_channels, 224, 224)`` -> stem 56x56 -> stages 56, 28, 14, 7 ->
    ``(N, num_classes)``. Any input of at least 32x32 works (global average pooling).
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, int, int, int],
        num_classes: int = 1000,
        in_channels: int = 3,
        attention: Attention = None,
    ) -> None:
        super().__init__()
        num_classes, in_channels = check_model_args(num_classes, in_channels)
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self._channels = 64
        self.layer1 = self._make_stage(block, 64, layers[0], 1, attention)
        self.layer2 = self._make_stage(block, 128, layers[1], 2, attention)
        self.layer3 = self._make_stage(block, 256, layers[2], 2, attention)
        self.layer4 = self._make_stage(block, 512, layers[3], 2, attention)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        _init_weights(self)

    def _make_stage(
        self, block, channels: int, blocks: int, stride: int, attention
    ) -> nn.Sequential:
        stage = [block(self._channels, channels, stride, attention=attention)]
        self._channels = channels * block.expansion
        stage += [block(self._channels, channels, attention=attention) for _ in range(blocks - 1)]
        return nn.Sequential(*stage)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _init_weights(model: nn.Module) -> None:
    """He (Kaiming) normal init for convolutions, as in the paper; BN starts at identity."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def resnet18(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-18: basic blocks ``[2, 2, 2, 2]``; 11,689,512 parameters at 1000 classes."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_channels)


def resnet34(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-34: basic blocks ``[3, 4, 6, 3]``; 21,797,672 parameters at 1000 classes."""
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_channels)


def resnet50(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-50: bottleneck blocks ``[3, 4, 6, 3]``; 25,557,032 parameters at 1000 classes.

    Same stage layout as ResNet-34 but every block is 1x1-3x3-1x1 with 4x expansion, so the
    stage outputs are 256, 512, 1024, 2048 channels while the 3x3s work at 64..512.
    """
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_channels)


def resnet101(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-101: bottleneck blocks ``[3, 4, 23, 3]``; 44,549,160 parameters at 1000 classes."""
    return ResNet(Bottleneck, (3, 4, 23, 3), num_classes, in_channels)


def resnet152(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-152: bottleneck blocks ``[3, 8, 36, 3]``; 60,192,808 parameters at 1000 classes."""
    return ResNet(Bottleneck, (3, 8, 36, 3), num_classes, in_channels)


def as_resnet_v1(model: ResNet) -> ResNet:
    """A copy of a bottleneck ResNet with the stride on the first 1x1, as in the 2016 paper (v1).

    The course's (and torchvision's) bottleneck blocks downsample in their 3x3 convolution
    ("ResNet v1.5"); He et al. put the stride on the first 1x1. Same weights and parameter count,
    but the 3x3 then works on the already-downsampled map: fewer multiply-adds (ResNet-50:
    about 3.86 G instead of 4.09 G) and a different receptive field.

    Parameters
    ----------
    model : ResNet
        A model built from :class:`Bottleneck` blocks (ResNet-50/101/152, SE variants).

    Returns
    -------
    ResNet
        A deep copy; ``(N, C, H, W) -> (N, num_classes)`` with the same output shape.
    """
    check_module("model", model)
    blocks = [m for m in model.modules() if isinstance(m, Bottleneck)]
    if not blocks:
        raise ValueError(
            f"model must contain Bottleneck blocks (ResNet-50/101/152), got {type(model).__name__} "
            "with none"
        )
    model = copy.deepcopy(model)
    for block in (m for m in model.modules() if isinstance(m, Bottleneck)):
        stride = block.conv2.stride
        block.conv2.stride, block.conv1.stride = block.conv1.stride, stride
    return model


# ---------------------------------------------------------------------------------------------
# CIFAR-style ResNets (paper section 4.2)


class ZeroPadShortcut(nn.Module):
    """Option-A shortcut: subsample by ``stride`` and pad the new channels with zeros.

    Parameter-free. Shapes: ``(N, C_in, H, W)`` -> ``(N, C_out, ceil(H / s), ceil(W / s))``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.extra = check_int("out_channels", out_channels, minimum=in_channels) - in_channels
        self.stride = check_int("stride", stride, minimum=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))  # pad the channel dimension at the end


class CifarResNet(nn.Module):
    """ResNet for 32x32 inputs with depth ``6n + 2``; see :func:`resnet20`.

    Shapes: ``(N, in_channels, 32, 32)`` -> 32x32x16 -> 16x16x32 -> 8x8x64 -> ``(N, num_classes)``.
    """

    def __init__(
        self,
        depth: int,
        num_classes: int = 10,
        in_channels: int = 3,
        shortcut: str = "A",
        attention: Attention = None,
    ) -> None:
        super().__init__()
        num_classes, in_channels = check_model_args(num_classes, in_channels)
        depth = check_int("depth", depth, minimum=8)
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}")
        check_choice("shortcut", shortcut, ("A", "B"))
        n = (depth - 2) // 6
        self.conv1 = conv3x3(in_channels, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        stages, c_in = [], 16
        for channels, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                s = stride if i == 0 else 1
                proj = None
                if (s != 1 or c_in != channels) and shortcut == "A":
                    proj = ZeroPadShortcut(c_in, channels, s)
                blocks.append(BasicBlock(c_in, channels, s, shortcut=proj, attention=attention))
                c_in = channels
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet20(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A") -> CifarResNet:
    """ResNet-20 for 32x32 inputs (n = 3): 269,722 parameters ("0.27M") at 10 classes.

    Parameters
    ----------
    num_classes : int
        Number of outputs (>= 1).
    in_channels : int
        Input channels (>= 1).
    shortcut : {'A', 'B'}
        ``'A'``: parameter-free zero-padding shortcuts (the paper's CIFAR choice);
        ``'B'``: 1x1 projection + batch norm where the shape changes (+2,752 parameters).

    Returns
    -------
    CifarResNet
        Input ``(N, in_channels, 32, 32)``, output ``(N, num_classes)``.
    """
    return CifarResNet(20, num_classes, in_channels, shortcut)


def resnet32(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A") -> CifarResNet:
    """ResNet-32 for 32x32 inputs (n = 5): 0.46M parameters. Arguments as :func:`resnet20`."""
    return CifarResNet(32, num_classes, in_channels, shortcut)


def resnet44(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A") -> CifarResNet:
    """ResNet-44 for 32x32 inputs (n = 7): 0.66M parameters. Arguments as :func:`resnet20`."""
    return CifarResNet(44, num_classes, in_channels, shortcut)


def resnet56(num_classes: int = 10, in_channels: int = 3, shortcut: str = "A") -> CifarResNet:
    """ResNet-56 for 32x32 inputs (n = 9): 0.85M parameters. Arguments as :func:`resnet20`."""
    return CifarResNet(56, num_classes, in_channels, shortcut)


# ---------------------------------------------------------------------------------------------
# The chapter's experiment: the same deep stack with and without skip connections


class _PlainPair(nn.Module):
    """Two 3x3 conv + ReLU layers, optionally wrapped by an identity skip connection."""

    def __init__(self, width: int, skip: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.relu = nn.ReLU()
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.conv1(x)))
        return self.relu(out + x) if self.skip else self.relu(out)


def residual_stack(
    depth: int = 20,
    width: int = 16,
    skip: bool = True,
    num_classes: int = 10,
    in_channels: int = 1,
) -> nn.Sequential:
    """A deep, narrow stack of 3x3 convolutions (no batch norm), with or without skips.

    Layout: stem conv ``in_channels -> width`` with stride 2 (28x28 -> 14x14, to keep the
    experiment cheap) + ReLU, then ``(depth - 2) / 2`` pairs of 3x3
    convolutions (each pair optionally inside ``relu(F(x) + x)``), global average pooling and a
    linear classifier: ``depth`` weight layers in total. With ``skip=False`` this is the "plain"
    network of the paper's Figure 4; both versions have exactly the same parameters. PyTorch's
    default initialisation is kept, so nothing but the skips differs.

    Parameters
    ----------
    depth : int
        Number of weight layers, even, >= 4.
    width : int
        Channels of every hidden layer (>= 1).
    skip : bool
        Add identity skip connections around each pair.
    num_classes, in_channels : int
        Output classes and input channels (>= 1).

    Returns
    -------
    torch.nn.Sequential
        ``(N, in_channels, H, W)`` -> ``(N, num_classes)``; the pairs are ``model[2:-3]``.
        The weight layers in order are the ``nn.Conv2d``/``nn.Linear`` in ``model.modules()``.
    """
    num_classes, in_channels = check_model_args(num_classes, in_channels)
    depth = check_int("depth", depth, minimum=4)
    if depth % 2:
        raise ValueError(f"depth must be even (stem + pairs + classifier), got {depth}")
    width = check_int("width", width, minimum=1)
    skip = check_bool("skip", skip)
    pairs = [_PlainPair(width, skip) for _ in range((depth - 2) // 2)]
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, stride=2, padding=1),
        nn.ReLU(),
        *pairs,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, num_classes),
    )
