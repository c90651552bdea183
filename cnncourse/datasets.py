"""PyTorch datasets for the course's data (chapter 6); the augmentations are in
:mod:`cnncourse.transforms`.

:class:`ImageDataset` wraps uint8 images and int labels (what :mod:`cnncourse.data` returns) as a
``torch.utils.data.Dataset`` that yields ``(image, label)`` with ``image`` a float tensor
(C, H, W), augmented (optionally) and normalised per channel. :func:`load` builds the train and
test datasets by name:

- ``'mnist_bundled'``: the 10,000 digits shipped with the package, split 8,000 / 2,000
  (:func:`cnncourse.data.mnist_split`), offline;
- ``'mnist'``, ``'fashion_mnist'``, ``'cifar10'``: the full datasets, downloaded on first use by
  :func:`cnncourse.data.load_dataset`.

Per dataset: :data:`CLASS_NAMES`, :data:`STATS` (normalisation) and
:func:`default_augmentation`. :func:`make_loader` is a ``DataLoader`` with its own seeded
shuffling. :func:`synthetic` makes random images shaped like a dataset's (smoke tests of a
recipe without a download). The dataset applies its transform to a whole batch at once when a ``DataLoader``
asks for one (``__getitems__``), which keeps augmentation cheap on a CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from . import data, transforms
from ._validate import check_array, check_bool, check_choice, check_int

__all__ = [
    "DATASET_NAMES",
    "CLASS_NAMES",
    "STATS",
    "ImageDataset",
    "load",
    "make_loader",
    "default_augmentation",
    "synthetic",
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
        (N, C, H, W) (all of :mod:`cnncourse.transforms` accept both).
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
        relabel = check_bool("relabel", relabel)
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
    normalize = check_bool("normalize", normalize)
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
    shuffle = check_bool("shuffle", shuffle)
    drop_last = check_bool("drop_last", drop_last)
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


def default_augmentation(name: str) -> transforms.Compose:
    """The augmentation the CLI uses for each dataset.

    Digits: small random rotations (up to 10 degrees), shifts (up to 8 % of the size, about
    2 pixels) and zooms (0.9 to 1.1); no flips, since a mirrored digit is another symbol.
    Fashion-MNIST: 2-pixel shifts and horizontal flips. CIFAR-10: the classic 4-pixel padded
    crop and flip.
    """
    check_choice("name", name, DATASET_NAMES)
    t = transforms
    if name in ("mnist_bundled", "mnist"):
        return t.Compose([t.RandomAffine(degrees=10, translate=(0.08, 0.08), scale=(0.9, 1.1))])
    if name == "fashion_mnist":
        return t.Compose([t.RandomCrop(28, padding=2), t.RandomHorizontalFlip()])
    return t.Compose([t.RandomCrop(32, padding=4), t.RandomHorizontalFlip()])


def synthetic(
    name: str,
    n_train: int = 256,
    n_test: int = 128,
    train_transform: Callable | None = None,
    seed: int = 0,
) -> tuple[ImageDataset, ImageDataset]:
    """Random train and test images shaped like dataset ``name``'s, for smoke tests.

    The images are uniform noise (uint8) with random labels over the dataset's classes,
    normalised with its :data:`STATS`, so everything downstream (augmentation, models, the
    training recipe) runs exactly as on the real data, with no download. Nothing can be learnt
    from them: accuracy stays near chance.

    Parameters
    ----------
    name : str
        One of :data:`DATASET_NAMES`: 28x28 grey images, or 32x32 colour for ``'cifar10'``.
    n_train, n_test : int
        Number of images (>= 1).
    train_transform : callable, optional
        Augmentation of the training set, as in :func:`load`.
    seed : int

    Returns
    -------
    train, test : ImageDataset
    """
    check_choice("name", name, DATASET_NAMES)
    n_train = check_int("n_train", n_train, minimum=1)
    n_test = check_int("n_test", n_test, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    shape = (32, 32, 3) if name == "cifar10" else (28, 28)
    rng = np.random.default_rng(seed)
    mean, std = STATS[name]
    made = []
    for n, transform in ((n_train, train_transform), (n_test, None)):
        x = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
        y = rng.integers(0, len(CLASS_NAMES[name]), n)
        made.append(ImageDataset(x, y, transform=transform, mean=mean, std=std))
    return made[0], made[1]
