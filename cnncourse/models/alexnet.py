"""AlexNet (Krizhevsky, Sutskever, Hinton 2012) in three variants.

Krizhevsky et al., "ImageNet classification with deep convolutional neural networks", NeurIPS 2012.
Krizhevsky, "One weird trick for parallelizing convolutional neural networks", arXiv:1404.5997, 2014.

The paper says the input is 224x224, but its own numbers need 227x227: an 11x11 convolution with
stride 4 and no padding maps 227 to (227 - 11)/4 + 1 = 55, while 224 gives floor(213/4) + 1 = 54
(and the network then ends on 5x5x256 = 6,400 features, not 6x6x256 = 9,216). The torchvision-style
variant pads conv1 by 2 so that 224 works: floor((224 + 4 - 11)/4) + 1 = 55.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .._validate import check_choice
from ._common import check_model_args

VARIANTS = ("original", "two_tower", "torchvision")

# (conv1..conv5 output channels, conv1 padding, groups of conv2/conv4/conv5, native input size)
_GEOMETRY = {
    "original": ((96, 256, 384, 384, 256), 0, 1, 227),
    "two_tower": ((96, 256, 384, 384, 256), 0, 2, 227),
    "torchvision": ((64, 192, 384, 256, 256), 2, 1, 224),
}


def native_size(variant: str = "original") -> int:
    """The input height/width a variant is built for (227 for the paper's geometry, else 224)."""
    return _GEOMETRY[check_choice("variant", variant, VARIANTS)][3]


def alexnet(
    num_classes: int = 1000, in_channels: int = 3, variant: str = "original"
) -> nn.Sequential:
    """AlexNet: five convolutions (ReLU, overlapping 3x3/2 max pooling) and three FC layers.

    Variants (parameters at 1000 classes, 3 input channels):

    - ``'original'`` (default): the 2012 paper's layer sizes (96-256-384-384-256 filters, local
      response normalisation after conv1 and conv2) on one device, 227x227 input:
      **62,378,344** parameters.
    - ``'two_tower'``: the same with the paper's split over two GPUs, i.e. conv2, conv4 and conv5
      see only the half of the channels on their own GPU (``groups=2``): **60,965,224**
      parameters (the paper's "60 million").
    - ``'torchvision'``: the 2014 "one weird trick" variant that ``torchvision.models.alexnet``
      implements: 64-192-384-256-256 filters, no LRN, conv1 padded by 2 so that 224x224 works,
      adaptive average pooling to 6x6 before the classifier: **61,100,840** parameters.

    Parameters
    ----------
    num_classes : int
        Number of outputs (>= 1).
    in_channels : int
        Input channels (>= 1).
    variant : {'original', 'two_tower', 'torchvision'}
        Which geometry to build.

    Returns
    -------
    torch.nn.Sequential
        Input ``(N, in_channels, 227, 227)`` (``'torchvision'``: 224), output
        ``(N, num_classes)``. Other sizes fail at ``fc6`` unless the last map is 6x6, which is
        the point of the 224-vs-227 lesson; the ``'torchvision'`` variant accepts any size that
        survives the convolutions.
    """
    num_classes, in_channels = check_model_args(num_classes, in_channels)
    (c1, c2, c3, c4, c5), pad1, groups, _ = _GEOMETRY[check_choice("variant", variant, VARIANTS)]
    lrn = variant != "torchvision"

    layers: list[tuple[str, nn.Module]] = [
        ("conv1", nn.Conv2d(in_channels, c1, kernel_size=11, stride=4, padding=pad1)),  # 227 -> 55
        ("relu1", nn.ReLU()),
    ]
    if lrn:  # the paper's k=2, n=5, alpha=1e-4, beta=0.75
        layers.append(("lrn1", nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)))
    layers += [
        ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),  # 55 -> 27 (overlapping pooling)
        ("conv2", nn.Conv2d(c1, c2, kernel_size=5, padding=2, groups=groups)),
        ("relu2", nn.ReLU()),
    ]
    if lrn:
        layers.append(("lrn2", nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)))
    layers += [
        ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),  # 27 -> 13
        ("conv3", nn.Conv2d(c2, c3, kernel_size=3, padding=1)),  # talks across both GPUs
        ("relu3", nn.ReLU()),
        ("conv4", nn.Conv2d(c3, c4, kernel_size=3, padding=1, groups=groups)),
        ("relu4", nn.ReLU()),
        ("conv5", nn.Conv2d(c4, c5, kernel_size=3, padding=1, groups=groups)),
        ("relu5", nn.ReLU()),
        ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),  # 13 -> 6
    ]
    if variant == "torchvision":
        layers.append(("avgpool", nn.AdaptiveAvgPool2d((6, 6))))
    layers += [
        ("flatten", nn.Flatten()),
        ("dropout6", nn.Dropout(0.5)),
        ("fc6", nn.Linear(c5 * 6 * 6, 4096)),
        ("relu6", nn.ReLU()),
        ("dropout7", nn.Dropout(0.5)),
        ("fc7", nn.Linear(4096, 4096)),
        ("relu7", nn.ReLU()),
        ("fc8", nn.Linear(4096, num_classes)),
    ]
    return nn.Sequential(OrderedDict(layers))
