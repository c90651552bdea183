"""PyTorch datasets for the course's data, and data augmentation written with torch ops.

Datasets
--------
:class:`ImageDataset` wraps uint8 images and int labels (what :mod:`cnncourse.data` returns) as a
``torch.utils.data.Dataset`` that yields ``(image, label)`` with ``image`` a float tensor
(C, H, W), augmented (optionally) and normalised per channel. :func:`load` builds the train and
test datasets by name:

- ``'mnist_bundled'``: the 10,000 digits shipped with the package, split 8,000 / 2,000
  (:func:`cnncourse.data.mnist_split`), offline;
- ``'mnist'``, ``'fashion_mnist'``, ``'cifar10'``: the full datasets, downloaded on first use by
  :func:`cnncourse.data.load_dataset`.

Augmentation
------------
Each transform is a small callable class that works on one image (C, H, W) *or* a batch
(N, C, H, W) of float images in [0, 1], drawing independent random parameters per image from
torch's global generator (so :func:`cnncourse.train.seed_everything` makes them repeatable).
:class:`ImageDataset` applies its transform to a whole batch at once when a ``DataLoader`` asks
for one (``__getitems__``), which keeps augmentation cheap on a CPU.

- :class:`RandomCrop` (with zero padding: random shifts),
- :class:`RandomHorizontalFlip` (for photos and clothes, *not* for digits: a flipped 2 is no 2),
- :class:`RandomAffine` / :class:`RandomRotation` (small rotations, shifts and zooms),
- :class:`ColorJitter` (brightness, contrast, saturation; RGB),
- :class:`RandomErasing` (blank out a random rectangle),
- :class:`Compose` chains them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from . import data
from ._validate import check_array, check_choice, check_int, check_pair

__all__ = [
    "DATASET_NAMES",
    "CLASS_NAMES",
    "STATS",
    "ImageDataset",
    "load",
    "make_loader",
    "default_augmentation",
    "Compose",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomAffine",
    "RandomRotation",
    "ColorJitter",
    "RandomErasing",
]

DATASET_NAMES = ("mnist_bundled", "mnist", "fashion_mnist", "cifar10")

CLASS_NAMES = {
    "mnist_bundled": [str(d) for d in range(10)],
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": [
        "T-shirt",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "boot",
    ],
    "cifar10": [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ],
}

# Per-channel mean and standard deviation of the training images (pixels scaled to [0, 1]), the
# usual published values; the bundled digits use full MNIST's.
STATS = {
    "mnist_bundled": ((0.1307,), (0.3081,)),
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


# --------------------------------------------------------------------------- dataset


class ImageDataset(Dataset):
    """Images and labels as a ``torch.utils.data.Dataset``.

    Parameters
    ----------
    images : array of uint8, shape (N, H, W) or (N, H, W, C)
        Pixel values 0..255 (as :mod:`cnncourse.data` returns them).
    labels : array of int, shape (N,)
    transform : callable, optional
        Augmentation applied to float images in [0, 1], shape (C, H, W) or a batch
        (N, C, H, W) (all transforms in this module accept both).
    mean, std : sequence of float, optional
        Per-channel normalisation applied *after* the transform; default: no normalisation.

    Items are ``(image, label)`` with ``image`` float32 (C, H, W) and ``label`` an int64 scalar
    tensor. ``DataLoader`` batches call ``__getitems__``, which transforms the batch in one go.
    """

    def __init__(
        self,
        images: Any,
        labels: Any,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ):
        x = check_array("images", images, ndim=(3, 4))
        y = check_array("labels", labels, ndim=1)
        if x.dtype != np.uint8:
            raise TypeError(f"images must be uint8 (0..255), got dtype {x.dtype}")
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"labels must be integers, got dtype {y.dtype}")
        if len(x) != len(y):
            raise ValueError(
                f"images and labels must have the same length, got {len(x)} and {len(y)}"
            )
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None, got {transform!r}")
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # -> (N, C, H, W)
        self.images = torch.from_numpy(np.ascontiguousarray(x))
        self.labels = torch.from_numpy(y.astype(np.int64))
        self.transform = transform
        channels = self.images.shape[1]
        self.mean = self._stat("mean", mean, channels, 0.0)
        self.std = self._stat("std", std, channels, 1.0)
        if torch.any(self.std <= 0):
            raise ValueError(f"std must be > 0 for every channel, got {self.std.tolist()}")

    @staticmethod
    def _stat(name: str, value, channels: int, default: float) -> torch.Tensor:
        if value is None:
            return torch.full((channels, 1, 1), default)
        v = torch.as_tensor(np.asarray(value, dtype=np.float32)).flatten()
        if v.numel() != channels:
            raise ValueError(
                f"{name} must have {channels} entries (one per channel), got {v.numel()}"
            )
        return v.reshape(channels, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    def _prepare(self, x: torch.Tensor, augment: bool = True) -> torch.Tensor:
        x = x.float() / 255.0
        if augment and self.transform is not None:
            x = self.transform(x)
        return (x - self.mean) / self.std

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._prepare(self.images[index]), self.labels[index]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        # DataLoader's batched fetch: one vectorised transform for the whole batch.
        idx = torch.as_tensor(indices, dtype=torch.long)
        x = self._prepare(self.images[idx])
        return list(zip(x.unbind(0), self.labels[idx].unbind(0), strict=True))

    def tensors(self, augment: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """All images as one normalised float tensor (N, C, H, W) and the labels (N,)."""
        return self._prepare(self.images, augment=augment), self.labels.clone()

    def select(
        self,
        classes: Sequence[int] | None = None,
        per_class: int | None = None,
        seed: int = 0,
        relabel: bool = True,
    ) -> ImageDataset:
        """A new dataset with only some classes and/or a few samples per class.

        Parameters
        ----------
        classes : sequence of int, optional
            Classes to keep (default: all).
        per_class : int, optional
            Keep this many randomly chosen samples of each class (default: all of them).
        seed : int
            Seed of the random choice (numpy ``default_rng``).
        relabel : bool
            Renumber the kept classes ``0 .. len(classes) - 1`` in the order given.

        Returns
        -------
        ImageDataset with the same transform and normalisation.
        """
        seed = check_int("seed", seed, minimum=0)
        labels = self.labels.numpy()
        present = sorted(set(labels.tolist()))
        classes = present if classes is None else [int(c) for c in classes]
        for c in classes:
            check_choice("classes", c, present)
        if len(set(classes)) != len(classes):
            raise ValueError(f"classes must not repeat a class, got {classes}")
        if per_class is not None:
            per_class = check_int("per_class", per_class, minimum=1)
        rng = np.random.default_rng(seed)
        keep = []
        for c in classes:
            idx = np.flatnonzero(labels == c)
            if per_class is not None:
                if per_class > len(idx):
                    raise ValueError(
                        f"per_class must be <= {len(idx)} (samples of class {c}), got {per_class}"
                    )
                idx = np.sort(rng.choice(idx, per_class, replace=False))
            keep.append(idx)
        order = np.sort(np.concatenate(keep))
        new = ImageDataset.__new__(ImageDataset)
        new.images = self.images[order]
        y = self.labels[order]
        if relabel:
            lookup = torch.full((max(present) + 1,), -1, dtype=torch.long)
            lookup[torch.tensor(classes)] = torch.arange(len(classes))
            y = lookup[y]
        new.labels = y
        new.transform, new.mean, new.std = self.transform, self.mean, self.std
        return new

    def __repr__(self) -> str:
        n, c, h, w = self.images.shape
        return f"ImageDataset({n} images of shape ({c}, {h}, {w}), {self.num_classes} classes, transform={self.transform!r})"


def load(
    name: str,
    train_transform: Callable | None = None,
    root: str | None = None,
    normalize: bool = True,
) -> tuple[ImageDataset, ImageDataset]:
    """Train and test datasets by name.

    Parameters
    ----------
    name : {'mnist_bundled', 'mnist', 'fashion_mnist', 'cifar10'}
        ``'mnist_bundled'`` is offline (8,000 train / 2,000 test); the others download once
        into the cache (see :func:`cnncourse.data.load_dataset`).
    train_transform : callable, optional
        Augmentation for the training set (the test set is never augmented).
    root : path, optional
        Download folder, passed to :func:`cnncourse.data.load_dataset`.
    normalize : bool
        Normalise with the dataset's per-channel :data:`STATS`.

    Returns
    -------
    train, test : ImageDataset
    """
    check_choice("name", name, DATASET_NAMES)
    if name == "mnist_bundled":
        x_train, y_train, x_test, y_test = data.mnist_split()
    else:
        x_train, y_train, x_test, y_test = data.load_dataset(name, root)
    mean, std = STATS[name] if normalize else (None, None)
    train = ImageDataset(x_train, y_train, transform=train_transform, mean=mean, std=std)
    test = ImageDataset(x_test, y_test, mean=mean, std=std)
    return train, test


def make_loader(
    dataset: Dataset,
    batch_size: int = 128,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A ``DataLoader`` whose shuffling comes from its own seeded ``torch.Generator``.

    The generator makes the batch order repeatable and is saved in (and restored from) the
    training checkpoints of :func:`cnncourse.train.fit`, so a resumed run sees the same batches.
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    num_workers = check_int("num_workers", num_workers, minimum=0)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        drop_last=drop_last,
        persistent_workers=num_workers > 0,
    )


def default_augmentation(name: str) -> Compose:
    """The augmentation the CLI uses for each dataset.

    Digits: small random rotations (up to 10 degrees), shifts (up to 8 % of the size, about
    2 pixels) and zooms (0.9 to 1.1); no flips, since a mirrored digit is another symbol.
    Fashion-MNIST: 2-pixel shifts and horizontal flips. CIFAR-10: the classic 4-pixel padded
    crop and flip.
    """
    check_choice("name", name, DATASET_NAMES)
    if name in ("mnist_bundled", "mnist"):
        return Compose([RandomAffine(degrees=10, translate=(0.08, 0.08), scale=(0.9, 1.1))])
    if name == "fashion_mnist":
        return Compose([RandomCrop(28, padding=2), RandomHorizontalFlip()])
    return Compose([RandomCrop(32, padding=4), RandomHorizontalFlip()])


# --------------------------------------------------------------------------- transforms


def _as_batch(x: Any, name: str = "x") -> tuple[torch.Tensor, bool]:
    """(C, H, W) -> (1, C, H, W); (N, C, H, W) stays. Returns the batch and whether it was one image."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (C, H, W) or (N, C, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a float tensor (pixels in [0, 1]), got {x.dtype}")
    return (x[None], True) if x.ndim == 3 else (x, False)


def _probability(name: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    return float(p)


def _uniform(n: int, low: float, high: float, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, device=device)


class Compose:
    """Apply transforms one after the other."""

    def __init__(self, transforms: Sequence[Callable]):
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"transforms[{i}] must be callable, got {t!r}")
        self.transforms = transforms

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class RandomCrop:
    """Pad with ``fill`` and cut a random ``size`` window: with size = input size, a random shift.

    Parameters
    ----------
    size : int or (int, int)
        Output height and width.
    padding : int
        Pixels added on every side before cropping (``padding=2`` on 28x28 digits shifts them by
        up to 2 pixels in each direction).
    fill : float
        Value of the padded pixels (0 = black background).

    Shapes: (C, H, W) -> (C, size_h, size_w); (N, C, H, W) -> (N, C, size_h, size_w), with an
    independent window per image.
    """

    def __init__(self, size: int | tuple[int, int], padding: int = 0, fill: float = 0.0):
        self.size = check_pair("size", size, minimum=1)
        self.padding = check_int("padding", padding, minimum=0)
        self.fill = float(fill)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        xb, single = _as_batch(x)
        p = self.padding
        if p:
            xb = F.pad(xb, (p, p, p, p), value=self.fill)
        n, c, h, w = xb.shape
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"size must be <= the padded image size ({h}, {w}), got {self.size}")
        top = torch.randint(0, h - th + 1, (n,), device=xb.device)
        left = torch.randint(0, w - tw + 1, (n,), device=xb.device)
        if n == 1:
            t, lft = int(top), int(left)
            out = xb[:, :, t : t + th, lft : lft + tw]
        else:
            # Gather every image's own window: rows (n, th, 1) and columns (n, 1, tw) broadcast
            # with the batch index to (n, th, tw); the channel slice lands last.
            rows = (top[:, None] + torch.arange(th, device=xb.device))[:, :, None]
            cols = (left[:, None] + torch.arange(tw, device=xb.device))[:, None, :]
            batch = torch.arange(n, device=xb.device)[:, None, None]
            out = xb[batch, :, rows, cols].permute(0, 3, 1, 2)
        out = out.contiguous()
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding}, fill={self.fill})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``. Shapes are unchanged."""

    def __init__(self, p: float = 0.5):
        self.p = _probability("p", p)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        xb, single = _as_batch(x)
        flip = torch.rand(xb.shape[0], device=xb.device) < self.p
        out = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomAffine:
    """Random rotation, shift and zoom about the image centre, with bilinear interpolation.

    Parameters
    ----------
    degrees : float
        Rotation angle drawn from [-degrees, degrees]; positive turns counter-clockwise on
        screen (as ``torch.rot90`` and ``skimage.transform.rotate``).
    translate : (float, float), optional
        Maximum shift as a fraction of width and height: dx in [-a W, a W], dy in [-b H, b H].
    scale : (float, float), optional
        Zoom factor drawn from [low, high] (> 1 enlarges).
    fill : float
        Value of pixels that come from outside the image.

    Shapes: (C, H, W) or (N, C, H, W), unchanged; one random transform per image.

    Notes
    -----
    The forward map in pixel coordinates centred on the image is ``p_out = s R p_in + t``.
    ``affine_grid`` wants the inverse (for every output pixel, where to read in the input),
    in coordinates normalised to [-1, 1] separately along x and y; conjugating with
    ``D = diag(W/2, H/2)`` keeps rotations of non-square images undistorted.
    """

    def __init__(
        self,
        degrees: float = 0.0,
        translate: tuple[float, float] | None = None,
        scale: tuple[float, float] | None = None,
        fill: float = 0.0,
    ):
        if (
            isinstance(degrees, bool)
            or not isinstance(degrees, (int, float))
            or not 0 <= degrees <= 180
        ):
            raise ValueError(f"degrees must be a number in [0, 180], got {degrees!r}")
        self.degrees = float(degrees)
        if translate is not None:
            if len(translate) != 2 or not all(0 <= float(t) <= 1 for t in translate):
                raise ValueError(
                    f"translate must be a pair of fractions in [0, 1], got {translate!r}"
                )
            translate = (float(translate[0]), float(translate[1]))
        self.translate = translate
        if scale is not None:
            if len(scale) != 2 or not 0 < float(scale[0]) <= float(scale[1]):
                raise ValueError(
                    f"scale must be a pair (low, high) with 0 < low <= high, got {scale!r}"
                )
            scale = (float(scale[0]), float(scale[1]))
        self.scale = scale
        self.fill = float(fill)

    def sample_matrices(self, n: int, height: int, width: int, device=None) -> torch.Tensor:
        """Draw ``n`` forward maps as (n, 2, 3) matrices ``[s R | t]`` in centred pixel units."""
        angle = torch.deg2rad(_uniform(n, -self.degrees, self.degrees, device))
        s = _uniform(n, *self.scale, device) if self.scale else torch.ones(n, device=device)
        if self.translate:
            tx = _uniform(n, -self.translate[0] * width, self.translate[0] * width, device)
            ty = _uniform(n, -self.translate[1] * height, self.translate[1] * height, device)
        else:
            tx = ty = torch.zeros(n, device=device)
        cos, sin = torch.cos(angle) * s, torch.sin(angle) * s
        # y points down in images, so a counter-clockwise turn on screen is [[c, s], [-s, c]].
        return torch.stack([torch.stack([cos, sin, tx], 1), torch.stack([-sin, cos, ty], 1)], 1)

    @staticmethod
    def warp(x: torch.Tensor, matrices: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """Apply forward maps (N, 2, 3) (centred pixel units) to a batch (N, C, H, W)."""
        n, _, h, w = x.shape
        a, t = matrices[:, :, :2].double(), matrices[:, :, 2:].double()
        d = torch.diag(torch.tensor([w / 2, h / 2], dtype=torch.float64, device=x.device))
        a_inv = torch.linalg.inv(a)
        theta_a = torch.linalg.inv(d) @ a_inv @ d
        theta_t = -torch.linalg.inv(d) @ a_inv @ t
        theta = torch.cat([theta_a, theta_t], 2).to(x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        # Sampling (x - fill) and adding fill back makes outside pixels equal fill, not 0.
        return (
            F.grid_sample(
                x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False
            )
            + fill
        )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        xb, single = _as_batch(x)
        n, _, h, w = xb.shape
        out = self.warp(xb, self.sample_matrices(n, h, w, xb.device), self.fill)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomAffine(degrees={self.degrees}, translate={self.translate}, scale={self.scale}, fill={self.fill})"


class RandomRotation(RandomAffine):
    """Rotate each image by an angle drawn from [-degrees, degrees] (see :class:`RandomAffine`)."""

    def __init__(self, degrees: float, fill: float = 0.0):
        super().__init__(degrees=degrees, fill=fill)

    def __repr__(self) -> str:
        return f"RandomRotation(degrees={self.degrees}, fill={self.fill})"


_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as PIL's convert('L')


def _gray(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 1, H, W) luma."""
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).reshape(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


class ColorJitter:
    """Random brightness, contrast and saturation (in that order), like PIL's ImageEnhance.

    Each factor ``f`` is drawn from [max(0, 1 - a), 1 + a] for strength ``a`` and blends the image
    with a reference: black (brightness: ``f x``), the mean grey level (contrast) or the image's
    own grey version (saturation, RGB only). ``f = 1`` leaves the image unchanged; results are
    clipped to [0, 1].

    Shapes: (C, H, W) or (N, C, H, W), unchanged; C = 1 or 3 (saturation needs C = 3).
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0):
        for name, v in (
            ("brightness", brightness),
            ("contrast", contrast),
            ("saturation", saturation),
        ):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf:
                raise ValueError(f"{name} must be a number >= 0, got {v!r}")
        self.brightness, self.contrast, self.saturation = (
            float(brightness),
            float(contrast),
            float(saturation),
        )

    @staticmethod
    def adjust(x: torch.Tensor, brightness=None, contrast=None, saturation=None) -> torch.Tensor:
        """Apply given per-image factors (tensors of shape (N,) or None) to a batch (N, C, H, W)."""
        c = x.shape[1]
        if c not in (1, 3):
            raise ValueError(f"x must have 1 or 3 channels, got {c}")
        if brightness is not None:
            x = (x * brightness.reshape(-1, 1, 1, 1)).clamp(0, 1)
        if contrast is not None:
            mean = (_gray(x) if c == 3 else x).mean(dim=(1, 2, 3), keepdim=True)
            f = contrast.reshape(-1, 1, 1, 1)
            x = (f * x + (1 - f) * mean).clamp(0, 1)
        if saturation is not None:
            if c != 3:
                raise ValueError("saturation needs RGB images (3 channels), got 1 channel")
            f = saturation.reshape(-1, 1, 1, 1)
            x = (f * x + (1 - f) * _gray(x)).clamp(0, 1)
        return x

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        xb, single = _as_batch(x)
        n = xb.shape[0]

        def factor(a):
            return _uniform(n, max(0.0, 1 - a), 1 + a, xb.device) if a > 0 else None

        sat = factor(self.saturation) if xb.shape[1] == 3 else None
        out = self.adjust(xb, factor(self.brightness), factor(self.contrast), sat)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation})"


class RandomErasing:
    """With probability ``p``, set a random rectangle of each image to ``value`` (Zhong et al. 2017).

    Parameters
    ----------
    p : float
        Probability that an image gets a rectangle.
    scale : (float, float)
        Range of the rectangle's area as a fraction of the image area.
    ratio : (float, float)
        Range of its aspect ratio height / width (drawn log-uniformly).
    value : float
        Fill value (0 = black).

    Shapes: (C, H, W) or (N, C, H, W), unchanged. Rectangles that would not fit are clipped to the
    image (instead of re-drawn), so every draw costs the same.
    """

    def __init__(
        self,
        p: float = 0.5,
        scale: tuple[float, float] = (0.02, 0.33),
        ratio: tuple[float, float] = (0.3, 3.3),
        value: float = 0.0,
    ):
        self.p = _probability("p", p)
        if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(
                f"scale must be a pair (low, high) with 0 < low <= high <= 1, got {scale!r}"
            )
        if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(
                f"ratio must be a pair (low, high) with 0 < low <= high, got {ratio!r}"
            )
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.value = float(value)

    def masks(self, n: int, height: int, width: int, device=None) -> torch.Tensor:
        """Draw ``n`` boolean masks (n, 1, H, W): True where the image is erased."""
        area = _uniform(n, *self.scale, device) * height * width
        log_r = _uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), device)
        r = torch.exp(log_r)
        h = torch.sqrt(area * r).round().clamp(1, height).long()
        w = torch.sqrt(area / r).round().clamp(1, width).long()
        top = (torch.rand(n, device=device) * (height - h + 1)).floor().long()
        left = (torch.rand(n, device=device) * (width - w + 1)).floor().long()
        on = torch.rand(n, device=device) < self.p
        ys = torch.arange(height, device=device)[None, :, None]
        xs = torch.arange(width, device=device)[None, None, :]
        inside = (
            (ys >= top[:, None, None])
            & (ys < (top + h)[:, None, None])
            & (xs >= left[:, None, None])
            & (xs < (left + w)[:, None, None])
        )
        return (inside & on[:, None, None])[:, None]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        xb, single = _as_batch(x)
        n, _, h, w = xb.shape
        out = xb.masked_fill(self.masks(n, h, w, xb.device), self.value)
        return out[0] if single else out

    def __repr__(self) -> str:
        return (
            f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value})"
        )
