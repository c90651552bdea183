"""A model zoo written from scratch (chapter 5): LeNet-5 to MobileNet, one module per family.

Every constructor takes ``num_classes`` and ``in_channels`` (validated) and returns a plain
``torch.nn.Module``. ``MODELS`` maps a name to ``(constructor, native input shape (C, H, W))``
for the default 3-channel (1 for LeNet) models; the architecture explorer and the benchmark use it.
"""

from __future__ import annotations

from ._common import count_multiply_adds, count_multiply_adds_hooks
from .alexnet import alexnet
from .googlenet import GoogLeNet, Inception, googlenet
from .lenet import lenet5, lenet5_modern, lenet5_parameters
from .mobilenet import DepthwiseSeparableConv, mobilenet_v1, separable_cost_ratio
from .resnet import (
    BasicBlock,
    Bottleneck,
    CifarResNet,
    ResNet,
    as_resnet_v1,
    residual_stack,
    resnet18,
    resnet20,
    resnet32,
    resnet34,
    resnet44,
    resnet50,
    resnet56,
    resnet101,
    resnet152,
)
from .senet import (
    SEBlock,
    se_resnet18,
    se_resnet20,
    se_resnet34,
    se_resnet50,
    se_resnet101,
    se_resnet152,
)
from .vgg import vgg11, vgg13, vgg16, vgg19, vgg_from_config

MODELS = {
    "lenet5": (lenet5, (1, 32, 32)),
    "lenet5_modern": (lenet5_modern, (1, 28, 28)),
    "alexnet": (alexnet, (3, 227, 227)),
    "vgg11": (vgg11, (3, 224, 224)),
    "vgg13": (vgg13, (3, 224, 224)),
    "vgg16": (vgg16, (3, 224, 224)),
    "vgg19": (vgg19, (3, 224, 224)),
    "googlenet": (googlenet, (3, 224, 224)),
    "resnet18": (resnet18, (3, 224, 224)),
    "resnet34": (resnet34, (3, 224, 224)),
    "resnet50": (resnet50, (3, 224, 224)),
    "resnet101": (resnet101, (3, 224, 224)),
    "resnet152": (resnet152, (3, 224, 224)),
    "resnet20": (resnet20, (3, 32, 32)),
    "resnet32": (resnet32, (3, 32, 32)),
    "resnet44": (resnet44, (3, 32, 32)),
    "resnet56": (resnet56, (3, 32, 32)),
    "se_resnet18": (se_resnet18, (3, 224, 224)),
    "se_resnet50": (se_resnet50, (3, 224, 224)),
    "se_resnet20": (se_resnet20, (3, 32, 32)),
    "mobilenet_v1": (mobilenet_v1, (3, 224, 224)),
}

__all__ = [
    "MODELS",
    "BasicBlock",
    "Bottleneck",
    "CifarResNet",
    "DepthwiseSeparableConv",
    "GoogLeNet",
    "Inception",
    "ResNet",
    "SEBlock",
    "alexnet",
    "as_resnet_v1",
    "count_multiply_adds",
    "count_multiply_adds_hooks",
    "googlenet",
    "lenet5",
    "lenet5_modern",
    "lenet5_parameters",
    "mobilenet_v1",
    "residual_stack",
    "resnet18",
    "resnet20",
    "resnet32",
    "resnet34",
    "resnet44",
    "resnet50",
    "resnet56",
    "resnet101",
    "resnet152",
    "se_resnet18",
    "se_resnet20",
    "se_resnet34",
    "se_resnet50",
    "se_resnet101",
    "se_resnet152",
    "separable_cost_ratio",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "vgg_from_config",
]
