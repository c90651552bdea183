"""cnncourse.data: bundled MNIST, photos, and the download/parse machinery (no network)."""

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
import urllib.error

import numpy as np
import pytest

from cnncourse import data


def test_bundled_mnist_shapes_types_and_checksum():
    images, labels = data.mnist_bundled()
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert set(np.unique(labels)) == set(range(10))
    assert images.max() == 255 and images.min() == 0
    assert data.sha256_file(data.MNIST_BUNDLED_FILE) == data.MNIST_BUNDLED_SHA256
    assert not images.flags.writeable  # the cached arrays are shared: read-only


def test_mnist_split_is_stratified_disjoint_and_deterministic():
    x_tr, y_tr, x_te, y_te = data.mnist_split()
    assert x_tr.shape == (8000, 28, 28) and x_te.shape == (2000, 28, 28)
    _, labels = data.mnist_bundled()
    # Each class keeps its share of the test set to within one digit.
    share = np.bincount(labels) * 2000 / len(labels)
    assert np.all(np.abs(np.bincount(y_te, minlength=10) - share) < 1)
    # Train and test are disjoint: no test image appears in train.
    train_keys = {img.tobytes() + bytes([lab]) for img, lab in zip(x_tr, y_tr, strict=True)}
    assert not any(
        img.tobytes() + bytes([lab]) in train_keys for img, lab in zip(x_te, y_te, strict=True)
    )
    again = data.mnist_split()
    for a, b in zip((x_tr, y_tr, x_te, y_te), again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = data.mnist_split(seed=1)
    assert not np.array_equal(other[3], y_te)


def test_mnist_split_rejects_bad_sizes():
    with pytest.raises(ValueError, match="test_size must be <= 9990"):
        data.mnist_split(test_size=9999)
    with pytest.raises(TypeError, match="test_size must be an integer"):
        data.mnist_split(test_size=0.2)


def test_corrupt_bundled_file_is_detected(tmp_path, monkeypatch):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(data.MNIST_BUNDLED_FILE.read_bytes()[:-1] + b"x")
    monkeypatch.setattr(data, "MNIST_BUNDLED_FILE", bad)
    data._mnist_arrays.cache_clear()
    try:
        with pytest.raises(data.ChecksumError, match="corrupt"):
            data.mnist_bundled()
    finally:
        monkeypatch.undo()
        data._mnist_arrays.cache_clear()


@pytest.mark.parametrize("name", data.SAMPLE_IMAGES)
def test_sample_images_offline(name):
    img = data.sample_image(name)
    assert img.ndim == 2 and img.dtype == np.float64
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.max() > 0.5


def test_sample_image_colour_and_bad_name():
    assert data.sample_image("astronaut", gray=False).shape == (512, 512, 3)
    with pytest.raises(ValueError, match="name must be one of .*'camera'.*; got 'ascent'"):
        data.sample_image("ascent")


# ----------------------------------------------------------------------------- parsers


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_roundtrip(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    raw = _idx_bytes(images, 0x08)
    path = tmp_path / ("x.idx.gz" if gz else "x.idx")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    np.testing.assert_array_equal(data.read_idx(path), images)
    floats = rng.normal(size=(3, 4)).astype(np.float32)
    (tmp_path / "f.idx").write_bytes(_idx_bytes(floats, 0x0D))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "f.idx"), floats)


def test_read_idx_rejects_garbage_and_truncation(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(tmp_path / "bad")
    raw = _idx_bytes(np.zeros((4, 2), dtype=np.uint8), 0x08)
    (tmp_path / "short").write_bytes(raw[:-3])
    with pytest.raises(ValueError, match="header says shape"):
        data.read_idx(tmp_path / "short")


def _cifar_archive(path, n_per_batch=4):
    rng = np.random.default_rng(0)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {
                b"data": rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8),
                b"labels": list(rng.integers(0, 10, size=n_per_batch)),
            }
            batches[name] = batch
            blob = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return batches


def test_read_cifar10(tmp_path):
    batches = _cifar_archive(tmp_path / "c.tar.gz")
    x_tr, y_tr, x_te, y_te = data.read_cifar10(tmp_path / "c.tar.gz")
    assert x_tr.shape == (20, 32, 32, 3) and x_te.shape == (4, 32, 32, 3)
    first = batches["data_batch_1"][b"data"][0]
    # CIFAR stores 1024 red, then 1024 green, then 1024 blue values, row-major.
    np.testing.assert_array_equal(x_tr[0, :, :, 0].ravel(), first[:1024])
    np.testing.assert_array_equal(x_tr[0, :, :, 2].ravel(), first[2048:])
    np.testing.assert_array_equal(y_te, batches["test_batch"][b"labels"])


# ----------------------------------------------------------------------------- downloads


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _serve(monkeypatch, payloads):
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        payload = payloads(url)
        if isinstance(payload, Exception):
            raise payload
        return _FakeResponse(payload)

    monkeypatch.setattr(data.urllib.request, "urlopen", fake_urlopen)
    return calls


def test_download_verifies_and_writes_atomically(tmp_path, monkeypatch):
    body = b"hello digits"
    good = hashlib.sha256(body).hexdigest()
    _serve(monkeypatch, lambda url: body)
    dest = tmp_path / "sub" / "file.bin"
    assert data.download("http://x/file.bin", dest, good) == dest
    assert dest.read_bytes() == body
    # A wrong checksum leaves neither the destination nor a partial file behind.
    dest2 = tmp_path / "other.bin"
    with pytest.raises(data.ChecksumError):
        data.download("http://x/other.bin", dest2, "0" * 64)
    assert list(tmp_path.iterdir()) == [tmp_path / "sub"]


def test_load_dataset_from_cache_and_offline_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNCOURSE_DATA", str(tmp_path))
    assert data.cache_dir() == tmp_path
    # Build a fake "mnist" whose checksums match files the test serves.
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, size=6).astype(np.uint8),
        "test_images": rng.integers(0, 256, size=(2, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, size=2).astype(np.uint8),
    }
    blobs = {role: gzip.compress(_idx_bytes(a, 0x08)) for role, a in arrays.items()}
    files = {
        role: data.RemoteFile(f"{role}.gz", hashlib.sha256(b).hexdigest())
        for role, b in blobs.items()
    }
    fake = data.RemoteDataset("mnist", ("http://mirror-a/", "http://mirror-b/"), files)
    monkeypatch.setitem(data.DATASETS, "mnist", fake)
    by_name = {f"{role}.gz": b for role, b in blobs.items()}
    # The first mirror is down; the second serves the files.
    calls = _serve(
        monkeypatch,
        lambda url: (
            urllib.error.URLError("down") if "mirror-a" in url else by_name[url.rsplit("/", 1)[1]]
        ),
    )
    x_tr, y_tr, x_te, y_te = data.load_dataset("mnist")
    np.testing.assert_array_equal(x_tr, arrays["train_images"])
    assert y_tr.dtype == np.int64
    np.testing.assert_array_equal(y_te, arrays["test_labels"])
    n_calls = len(calls)
    data.load_dataset("mnist")  # cached and verified: no new requests
    assert len(calls) == n_calls
    # A corrupted cache file is detected and fetched again.
    (tmp_path / "mnist" / "test_labels.gz").write_bytes(b"garbage")
    data.load_dataset("mnist")
    assert len(calls) > n_calls

    # Offline: every mirror fails -> one error that says what to do.
    _serve(monkeypatch, lambda url: urllib.error.URLError("Name or service not known"))
    with pytest.raises(data.DownloadError, match="mnist_bundled") as info:
        data.load_dataset("mnist", root=tmp_path / "empty")
    assert "mirror-a" in str(info.value) and "CNNCOURSE_DATA" in str(info.value)
    assert not any((tmp_path / "empty").iterdir())  # nothing half-written


def test_load_dataset_rejects_unknown_name():
    with pytest.raises(ValueError, match="name must be one of 'mnist', 'fashion_mnist', 'cifar10'"):
        data.load_dataset("imagenet")
