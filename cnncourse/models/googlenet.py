"""GoogLeNet / Inception v1 (Szegedy et al. 2015): Inception modules with 1x1 reductions.

Szegedy et al., "Going deeper with convolutions", CVPR 2015 (arXiv:1409.4842), Table 1.

Variant built here: the paper's, i.e. real 5x5 convolutions in the third branch, convolutions
with biases and ReLU, local response normalisation in the stem, no batch norm (that arrived with
Inception v2), max pools in ceil mode (the paper's 112 -> 56 needs it: floor mode gives 55), and
dropout 0.4 before the classifier. Parameters at 1000 classes: **6,998,552** without the
auxiliary heads (the paper's table sums to about 6.8M because it leaves out biases and the
classifier differs slightly), **13,378,280** with them. ``torchvision``'s ``googlenet`` differs
(batch norm, a 3x3 instead of the 5x5) and has 6,624,904.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validate import check_bool, check_int
from ._common import check_model_args

# name: (in_channels, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj) -- paper Table 1
INCEPTION_CONFIG = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def _conv_relu(c_in: int, c_out: int, kernel_size: int, **kwargs) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size, **kwargs), nn.ReLU())


class Inception(nn.Module):
    """Four parallel branches concatenated along channels; spatial size is kept.

    Branches: 1x1 conv; 1x1 reduce -> 3x3 conv; 1x1 reduce -> 5x5 conv; 3x3/1 max pool -> 1x1
    projection. The 1x1 reductions are what make the 3x3 and 5x5 branches affordable.

    Parameters
    ----------
    in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj : int
        Channel counts (all >= 1), as in a row of the paper's Table 1.

    Shapes
    ------
    ``(N, in_channels, H, W)`` -> ``(N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3_reduce: int,
        ch3x3: int,
        ch5x5_reduce: int,
        ch5x5: int,
        pool_proj: int,
    ) -> None:
        super().__init__()
        names = (
            "in_channels",
            "ch1x1",
            "ch3x3_reduce",
            "ch3x3",
            "ch5x5_reduce",
            "ch5x5",
            "pool_proj",
        )
        values = (in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj)
        for n, v in zip(names, values, strict=True):
            check_int(n, v, minimum=1)
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = _conv_relu(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(
            _conv_relu(in_channels, ch3x3_reduce, 1), _conv_relu(ch3x3_reduce, ch3x3, 3, padding=1)
        )
        self.branch3 = nn.Sequential(
            _conv_relu(in_channels, ch5x5_reduce, 1), _conv_relu(ch5x5_reduce, ch5x5, 5, padding=2)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1), _conv_relu(in_channels, pool_proj, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([b(x) for b in branches], dim=1)


class AuxHead(nn.Module):
    """Auxiliary classifier on 4a and 4d: 5x5/3 average pool (14 -> 4), 1x1 conv 128, FC 1024,
    dropout 0.7, FC ``num_classes``. Shapes: ``(N, C, 14, 14)`` -> ``(N, num_classes)``."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4))  # = AvgPool2d(5, stride=3) on a 14x14 map
        self.conv = _conv_relu(in_channels, 128, 1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(0.7)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """GoogLeNet; see :func:`googlenet`."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False):
        super().__init__()
        num_classes, in_channels = check_model_args(num_classes, in_channels)
        self.aux_logits = check_bool("aux_logits", aux_logits)
        lrn = dict(size=5, alpha=1e-4, beta=0.75)
        self.stem = nn.Sequential(
            _conv_relu(in_channels, 64, 7, stride=2, padding=3),  # 224 -> 112
            nn.MaxPool2d(3, stride=2, ceil_mode=True),  # 112 -> 56
            nn.LocalResponseNorm(**lrn),
            _conv_relu(64, 64, 1),
            _conv_relu(64, 192, 3, padding=1),
            nn.LocalResponseNorm(**lrn),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),  # 56 -> 28
        )
        cfg = INCEPTION_CONFIG
        self.inception3a = Inception(*cfg["3a"])  # 28x28x256
        self.inception3b = Inception(*cfg["3b"])  # 28x28x480
        self.pool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 28 -> 14
        self.inception4a = Inception(*cfg["4a"])  # 14x14x512
        self.inception4b = Inception(*cfg["4b"])  # 14x14x512
        self.inception4c = Inception(*cfg["4c"])  # 14x14x512
        self.inception4d = Inception(*cfg["4d"])  # 14x14x528
        self.inception4e = Inception(*cfg["4e"])  # 14x14x832
        self.pool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 14 -> 7
        self.inception5a = Inception(*cfg["5a"])  # 7x7x832
        self.inception5b = Inception(*cfg["5b"])  # 7x7x1024
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # the paper's 7x7 average pool
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(1024, num_classes)
        self.aux1 = AuxHead(512, num_classes) if aux_logits else None
        self.aux2 = AuxHead(528, num_classes) if aux_logits else None

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        x = self.pool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.pool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if aux1 is not None:
            return x, aux1, aux2
        return x


def googlenet(num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False) -> GoogLeNet:
    """GoogLeNet (Inception v1), the paper's variant: 6,998,552 parameters at 1000 classes.

    Module output channels: 3a 256, 3b 480, 4a 512, 4b 512, 4c 512, 4d 528, 4e 832, 5a 832,
    5b 1024. The two auxiliary heads (``aux_logits=True``) add 6,379,728 parameters; they only
    run in training mode.

    Parameters
    ----------
    num_classes : int
        Number of outputs (>= 1).
    in_channels : int
        Input channels (>= 1).
    aux_logits : bool
        Build the auxiliary classifiers after 4a and 4d.

    Returns
    -------
    GoogLeNet
        Input ``(N, in_channels, 224, 224)``; output ``(N, num_classes)`` logits, or in training
        mode with ``aux_logits=True`` a tuple ``(logits, aux1, aux2)`` of that shape each.
    """
    return GoogLeNet(num_classes, in_channels, aux_logits)
