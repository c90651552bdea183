"""cnncourse.datasets (the Dataset wrapper, loaders) and cnncourse.transforms (torch-op augmentations).

References: the geometric transforms against scikit-image's warp/rotate (bilinear, constant
fill), the colour transforms against PIL's ImageEnhance, the bundled split against
cnncourse.data.mnist_split.
"""

import numpy as np
import pytest
import skimage.transform as skt
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageEnhance

from cnncourse import data, datasets, transforms

FAST = settings(max_examples=30, deadline=None)


def _images(seed, n, c, h, w):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=g)


# --------------------------------------------------------------------------- ImageDataset


def _toy(n=12, h=6, w=5, channels=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n, h, w) if channels is None else (n, h, w, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 3, n)


def test_items_are_normalised_chw_float_tensors():
    x, y = _toy(channels=3)
    ds = datasets.ImageDataset(x, y, mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 2.0))
    img, label = ds[4]
    assert img.shape == (3, 6, 5) and img.dtype == torch.float32
    expected = (
        x[4].transpose(2, 0, 1) / 255.0 - np.array([0.1, 0.2, 0.3])[:, None, None]
    ) / np.array([0.5, 0.25, 2.0])[:, None, None]
    np.testing.assert_allclose(img.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert label.dtype == torch.int64 and int(label) == y[4]
    assert len(ds) == 12 and ds.num_classes == int(y.max()) + 1


def test_batched_fetch_equals_item_by_item_without_augmentation():
    x, y = _toy()
    ds = datasets.ImageDataset(x, y, mean=(0.5,), std=(0.2,))
    batch = ds.__getitems__([3, 0, 7])
    for (bx, by), i in zip(batch, [3, 0, 7], strict=True):
        torch.testing.assert_close(bx, ds[i][0])
        assert int(by) == y[i]
    xs, ys = ds.tensors()
    assert xs.shape == (12, 1, 6, 5)
    torch.testing.assert_close(xs[7], ds[7][0])


def test_transform_runs_once_per_batch_on_the_whole_batch():
    calls = []

    def record(x):
        calls.append(tuple(x.shape))
        return x

    x, y = _toy()
    loader = datasets.make_loader(datasets.ImageDataset(x, y, transform=record), batch_size=5)
    assert [tuple(b[0].shape) for b in loader] == [(5, 1, 6, 5), (5, 1, 6, 5), (2, 1, 6, 5)]
    assert calls == [(5, 1, 6, 5), (5, 1, 6, 5), (2, 1, 6, 5)]
    x0 = datasets.ImageDataset(x, y, transform=record)[0][0]
    assert x0.shape == (1, 6, 5) and calls[-1] == (1, 6, 5)


def test_select_keeps_classes_and_counts_and_relabels():
    x, y = _toy(n=60, seed=3)
    ds = datasets.ImageDataset(x, y)
    sub = ds.select(classes=[2, 0], per_class=4, seed=1)
    assert len(sub) == 8
    assert sorted(sub.labels.tolist()) == [0] * 4 + [1] * 4
    # Relabelled class 0 is original class 2: its images are original class-2 images.
    originals = {bytes(img) for img in x[y == 2]}
    assert all(bytes(img.numpy()[0]) in originals for img in sub.images[sub.labels == 0])
    same = ds.select(classes=[2, 0], per_class=4, seed=1)
    assert torch.equal(same.images, sub.images)
    keep = ds.select(classes=[1], relabel=False)
    assert set(keep.labels.tolist()) == {1} and len(keep) == int((y == 1).sum())


def test_bundled_split_matches_data_module():
    train, test = datasets.load("mnist_bundled")
    x_train, y_train, x_test, y_test = data.mnist_split()
    assert len(train) == 8000 and len(test) == 2000
    assert torch.equal(train.images[:, 0], torch.from_numpy(x_train))
    assert torch.equal(test.labels, torch.from_numpy(y_test))
    xs, _ = train.tensors()
    # Normalised with MNIST's statistics, the bundled digits have mean ~0 and std ~1.
    assert abs(float(xs.mean())) < 0.05 and abs(float(xs.std()) - 1) < 0.05
    raw, _ = datasets.load("mnist_bundled", normalize=False)
    assert float(raw.tensors()[0].max()) == 1.0


def test_make_loader_order_depends_only_on_the_seed():
    x, y = _toy(n=40)
    ds = datasets.ImageDataset(x, y)

    def order(seed):
        return torch.cat([b[1] for b in datasets.make_loader(ds, 8, shuffle=True, seed=seed)])

    torch.manual_seed(0)
    first = order(5)
    torch.manual_seed(99)  # the global generator does not matter
    assert torch.equal(first, order(5))
    assert not torch.equal(first, order(6))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: datasets.ImageDataset(np.zeros((2, 3, 3)), [0, 1]),
            TypeError,
            "images must be uint8",
        ),
        (lambda: datasets.ImageDataset(np.zeros((2, 3), np.uint8), [0, 1]), ValueError, "images"),
        (
            lambda: datasets.ImageDataset(np.zeros((2, 3, 3), np.uint8), [0]),
            ValueError,
            "same length",
        ),
        (
            lambda: datasets.ImageDataset(np.zeros((2, 3, 3), np.uint8), [0.5, 1]),
            TypeError,
            "labels",
        ),
        (
            lambda: datasets.ImageDataset(np.zeros((2, 3, 3), np.uint8), [0, 1], mean=(0, 0)),
            ValueError,
            "mean must have 1",
        ),
        (
            lambda: datasets.ImageDataset(np.zeros((2, 3, 3), np.uint8), [0, 1], std=(0,)),
            ValueError,
            "std must be > 0",
        ),
        (
            lambda: datasets.ImageDataset(np.zeros((2, 3, 3), np.uint8), [0, 1], transform=3),
            TypeError,
            "transform",
        ),
        (lambda: datasets.load("imagenet"), ValueError, "name must be one of"),
        (lambda: datasets.default_augmentation("svhn"), ValueError, "name"),
        (lambda: datasets.make_loader([1, 2], batch_size=0), ValueError, "batch_size"),
        (lambda: datasets.make_loader([1, 2], seed=-1), ValueError, "seed"),
    ],
)
def test_bad_dataset_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_select_bad_arguments():
    x, y = _toy(n=30)
    ds = datasets.ImageDataset(x, y)
    with pytest.raises(ValueError, match="classes"):
        ds.select(classes=[7])
    with pytest.raises(ValueError, match="classes must not repeat"):
        ds.select(classes=[1, 1])
    with pytest.raises(ValueError, match="per_class must be <="):
        ds.select(classes=[0], per_class=1000)
    with pytest.raises(ValueError, match="per_class"):
        ds.select(per_class=0)


# --------------------------------------------------------------------------- RandomCrop


@FAST
@given(
    st.integers(0, 2**31 - 1),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(3, 12),
    st.integers(3, 12),
    st.integers(0, 3),
    st.data(),
)
def test_random_crop_returns_a_window_of_the_padded_image(seed, n, c, h, w, padding, draw):
    th = draw.draw(st.integers(1, h + 2 * padding))
    tw = draw.draw(st.integers(1, w + 2 * padding))
    x = _images(seed, n, c, h, w)
    torch.manual_seed(seed)
    out = transforms.RandomCrop((th, tw), padding=padding, fill=-1.0)(x)
    assert out.shape == (n, c, th, tw)
    padded = torch.nn.functional.pad(x, (padding,) * 4, value=-1.0)
    for i in range(n):
        windows = padded[i].unfold(1, th, 1).unfold(2, tw, 1)  # (c, oh, ow, th, tw)
        hits = (windows == out[i][:, None, None]).flatten(3).all(-1).all(0)
        assert hits.any(), "the crop is not a window of the padded image"


def test_random_crop_shifts_vary_per_image_and_single_images_work():
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 5, 5)
    x[:, :, 2, 2] = 1.0  # one bright pixel in the centre
    out = transforms.RandomCrop(5, padding=2)(x)
    positions = {tuple(torch.nonzero(o[0])[0].tolist()) for o in out}
    assert len(positions) > 10  # shifts of -2..2 in both directions
    assert all(0 <= r < 5 and 0 <= c < 5 for r, c in positions)
    single = transforms.RandomCrop(5, padding=2)(x[0])
    assert single.shape == (1, 5, 5) and float(single.sum()) == 1.0
    np.testing.assert_array_equal(transforms.RandomCrop(5)(x[0]).numpy(), x[0].numpy())


# --------------------------------------------------------------------------- flips


def test_horizontal_flip_probabilities():
    x = _images(1, 200, 2, 4, 5)
    torch.testing.assert_close(transforms.RandomHorizontalFlip(p=1.0)(x), x.flip(-1))
    torch.testing.assert_close(transforms.RandomHorizontalFlip(p=0.0)(x), x)
    torch.manual_seed(0)
    out = transforms.RandomHorizontalFlip(p=0.5)(x)
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert bool((flipped | kept).all())
    assert 60 < int(flipped.sum()) < 140  # Binomial(200, 0.5): far inside 6 sigma


# --------------------------------------------------------------------------- affine


def _skimage_warp(img, matrix, fill):
    """Reference: scikit-image warp with the same forward map in pixel coordinates."""
    h, w = img.shape
    a, t = matrix[:, :2], matrix[:, 2]
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    forward = np.eye(3)
    forward[:2, :2] = a
    forward[:2, 2] = centre + t - a @ centre
    return skt.warp(img, np.linalg.inv(forward), order=1, mode="constant", cval=fill, clip=False)


@FAST
@given(
    st.integers(0, 2**31 - 1),
    st.integers(4, 16),
    st.integers(4, 16),
    st.floats(-180, 180),
    st.floats(0.7, 1.4),
    st.floats(-3, 3),
    st.floats(-3, 3),
    st.sampled_from([0.0, 0.5]),
)
def test_affine_warp_matches_skimage(seed, h, w, degrees, scale, tx, ty, fill):
    img = _images(seed, 1, 1, h, w)[0, 0].double().numpy()
    rad = np.deg2rad(degrees)
    c, s = scale * np.cos(rad), scale * np.sin(rad)
    matrix = np.array([[c, s, tx], [-s, c, ty]])
    ours = transforms.RandomAffine.warp(
        torch.tensor(img, dtype=torch.float64)[None, None], torch.tensor(matrix)[None], fill
    )[0, 0].numpy()
    np.testing.assert_allclose(ours, _skimage_warp(img, matrix, fill), atol=1e-9)


def test_rotation_direction_matches_rot90_and_skimage():
    x = _images(0, 1, 2, 7, 7)
    quarter = torch.tensor([[[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]])
    torch.testing.assert_close(
        transforms.RandomAffine.warp(x, quarter), torch.rot90(x, 1, (-2, -1)), atol=1e-5, rtol=0
    )
    img = x[0, 0].double().numpy()
    rad = np.deg2rad(25)
    m = torch.tensor([[[np.cos(rad), np.sin(rad), 0], [-np.sin(rad), np.cos(rad), 0]]])
    ours = transforms.RandomAffine.warp(torch.tensor(img)[None, None], m)[0, 0].numpy()
    np.testing.assert_allclose(
        ours, skt.rotate(img, 25, order=1, mode="constant", clip=False), atol=1e-9
    )


def test_random_affine_draws_within_its_ranges():
    torch.manual_seed(0)
    t = transforms.RandomAffine(degrees=15, translate=(0.1, 0.2), scale=(0.8, 1.2))
    m = t.sample_matrices(500, height=20, width=30).double()
    scale = torch.sqrt(m[:, 0, 0] ** 2 + m[:, 0, 1] ** 2)
    angle = torch.rad2deg(torch.atan2(m[:, 0, 1], m[:, 0, 0]))
    assert scale.min() >= 0.8 - 1e-6 and scale.max() <= 1.2 + 1e-6
    assert angle.abs().max() <= 15 + 1e-4 and angle.abs().max() > 13
    assert m[:, 0, 2].abs().max() <= 3 + 1e-6 and m[:, 1, 2].abs().max() <= 4 + 1e-6
    identity = transforms.RandomAffine()(_images(0, 3, 1, 6, 6))
    torch.testing.assert_close(identity, _images(0, 3, 1, 6, 6), atol=1e-6, rtol=0)
    rot = transforms.RandomRotation(30)
    assert rot.degrees == 30 and rot.translate is None and rot.scale is None


# --------------------------------------------------------------------------- colour


def _pil(img01):
    return Image.fromarray(np.round(img01 * 255).astype(np.uint8))


@FAST
@given(
    st.integers(0, 2**31 - 1),
    st.floats(0.0, 2.0),
    st.sampled_from(["brightness", "contrast", "saturation"]),
)
def test_color_adjustments_match_pil_image_enhance(seed, factor, kind):
    rgb = np.round(_images(seed, 1, 3, 6, 7)[0].permute(1, 2, 0).numpy() * 255) / 255
    enhancer = {
        "brightness": ImageEnhance.Brightness,
        "contrast": ImageEnhance.Contrast,
        "saturation": ImageEnhance.Color,
    }
    expected = np.asarray(enhancer[kind](_pil(rgb)).enhance(factor), dtype=np.float64) / 255
    x = torch.tensor(rgb, dtype=torch.float64).permute(2, 0, 1)[None]
    ours = transforms.ColorJitter.adjust(x, **{kind: torch.tensor([factor], dtype=torch.float64)})
    # PIL works on uint8 (rounds the grey levels and the result): within 2 grey levels.
    np.testing.assert_allclose(ours[0].permute(1, 2, 0).numpy(), expected, atol=2.01 / 255)


def test_color_jitter_factors_stay_in_range_and_keep_images_valid():
    torch.manual_seed(0)
    grey = torch.full((300, 1, 2, 2), 0.5)
    out = transforms.ColorJitter(brightness=0.4)(grey)
    levels = out[:, 0, 0, 0]
    assert levels.min() >= 0.3 - 1e-6 and levels.max() <= 0.7 + 1e-6 and levels.std() > 0.05
    rgb = _images(2, 20, 3, 5, 5)
    jittered = transforms.ColorJitter(0.5, 0.5, 0.5)(rgb)
    assert jittered.shape == rgb.shape and jittered.min() >= 0 and jittered.max() <= 1
    torch.testing.assert_close(transforms.ColorJitter()(rgb), rgb)
    no_colour = transforms.ColorJitter.adjust(rgb, saturation=torch.zeros(20))
    torch.testing.assert_close(no_colour[:, 0], no_colour[:, 1])
    with pytest.raises(ValueError, match="saturation needs RGB"):
        transforms.ColorJitter.adjust(rgb[:, :1], saturation=torch.ones(20))


# --------------------------------------------------------------------------- erasing


@FAST
@given(st.integers(0, 2**31 - 1), st.integers(1, 5), st.integers(4, 20), st.integers(4, 20))
def test_random_erasing_blanks_one_rectangle_per_image(seed, n, h, w):
    x = _images(seed, n, 2, h, w) + 1.0  # all pixels > 0, so erased ones (0) are recognisable
    torch.manual_seed(seed)
    t = transforms.RandomErasing(p=1.0, scale=(0.05, 0.3), value=0.0)
    out = t(x)
    for i in range(n):
        erased = out[i] == 0
        assert torch.equal(erased[0], erased[1])  # same rectangle in every channel
        rows = torch.nonzero(erased[0].any(1)).flatten()
        cols = torch.nonzero(erased[0].any(0)).flatten()
        assert len(rows) > 0
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        assert bool(erased[0, r0:r1, c0:c1].all()) and int(erased[0].sum()) == (r1 - r0) * (c1 - c0)
        torch.testing.assert_close(out[i][~erased], x[i][~erased])


def test_random_erasing_probability_and_area():
    torch.manual_seed(0)
    masks = transforms.RandomErasing(p=0.5, scale=(0.1, 0.2), ratio=(1.0, 1.0)).masks(400, 30, 30)
    hit = masks.flatten(1).any(1)
    assert 150 < int(hit.sum()) < 250
    area = masks.flatten(1).sum(1)[hit].double() / 900
    assert area.min() >= 0.08 and area.max() <= 0.22  # rounding to whole pixels
    torch.testing.assert_close(
        transforms.RandomErasing(p=0.0)(_images(0, 3, 1, 5, 5)), _images(0, 3, 1, 5, 5)
    )


# --------------------------------------------------------------------------- composition


def test_compose_and_default_augmentations_keep_shapes():
    torch.manual_seed(0)
    digits = _images(0, 8, 1, 28, 28)
    for name, x in (
        ("mnist_bundled", digits),
        ("fashion_mnist", digits),
        ("cifar10", _images(0, 8, 3, 32, 32)),
    ):
        aug = datasets.default_augmentation(name)
        assert aug(x).shape == x.shape and aug(x[0]).shape == x[0].shape
    calls = []
    chain = transforms.Compose(
        [lambda v: calls.append("a") or v + 1, lambda v: calls.append("b") or v * 2]
    )
    assert float(chain(torch.zeros(1, 1, 1))) == 2.0 and calls == ["a", "b"]
    assert not any(
        isinstance(t, transforms.RandomHorizontalFlip)
        for t in datasets.default_augmentation("mnist").transforms
    )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: transforms.RandomCrop(0), ValueError, "size"),
        (lambda: transforms.RandomCrop(4, padding=-1), ValueError, "padding"),
        (lambda: transforms.RandomCrop(9)(torch.zeros(1, 4, 4)), ValueError, "size must be <="),
        (lambda: transforms.RandomCrop(2)(torch.zeros(4, 4)), ValueError, "x must have shape"),
        (
            lambda: transforms.RandomCrop(2)(torch.zeros(1, 4, 4, dtype=torch.uint8)),
            TypeError,
            "float",
        ),
        (lambda: transforms.RandomCrop(2)(np.zeros((1, 4, 4))), TypeError, "torch.Tensor"),
        (lambda: transforms.RandomHorizontalFlip(p=1.5), ValueError, r"p must be in \[0, 1\]"),
        (lambda: transforms.RandomHorizontalFlip(p=True), TypeError, "p must be a real number"),
        (lambda: transforms.RandomAffine(degrees=200), ValueError, "degrees"),
        (lambda: transforms.RandomCrop(4, fill=float("nan")), ValueError, "fill"),
        (lambda: transforms.ColorJitter(contrast="0.5"), TypeError, "contrast"),
        (lambda: transforms.RandomErasing(value=None), TypeError, "value"),
        (lambda: datasets.make_loader([], shuffle=1), TypeError, "shuffle"),
        (lambda: transforms.RandomAffine(degrees=-5), ValueError, "degrees"),
        (lambda: transforms.RandomAffine(translate=(0.1,)), ValueError, "translate"),
        (lambda: transforms.RandomAffine(scale=(1.2, 0.8)), ValueError, "scale"),
        (lambda: transforms.ColorJitter(brightness=-1), ValueError, "brightness"),
        (lambda: transforms.RandomErasing(scale=(0.5, 0.1)), ValueError, "scale"),
        (lambda: transforms.RandomErasing(ratio=(0, 1)), ValueError, "ratio"),
        (lambda: transforms.Compose([1]), TypeError, r"transforms\[0\]"),
    ],
)
def test_bad_transform_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
