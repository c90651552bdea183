"""Data augmentation written with torch ops (chapter 6), in the style of torchvision's transforms.

Each transform is a small callable class that works on one image (C, H, W) *or* a batch
(N, C, H, W) of float images in [0, 1], drawing independent random parameters per image from
torch's global generator (so :func:`cnncourse.train.seed_everything` makes them repeatable).
:class:`cnncourse.datasets.ImageDataset` applies its transform to a whole batch at once when a
``DataLoader`` asks for one, which keeps augmentation cheap on a CPU. The augmentation the
course uses for each dataset is :func:`cnncourse.datasets.default_augmentation`.

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

import torch
import torch.nn.functional as F

from ._validate import (
    check_int,
    check_nonnegative_float,
    check_pair,
    check_real,
    check_unit_interval,
)

__all__ = [
    "Compose",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomAffine",
    "RandomRotation",
    "ColorJitter",
    "RandomErasing",
]


def _as_batch(x: Any, name: str = "x") -> tuple[torch.Tensor, bool]:
    """(C, H, W) -> (1, C, H, W); (N, C, H, W) stays. Returns the batch and whether it was one image."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (C, H, W) or (N, C, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a float tensor (pixels in [0, 1]), got {x.dtype}")
    return (x[None], True) if x.ndim == 3 else (x, False)


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
        self.fill = check_real("fill", fill)

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
        self.p = check_unit_interval("p", p)

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
        self.degrees = check_nonnegative_float("degrees", degrees)
        if self.degrees > 180:
            raise ValueError(f"degrees must be in [0, 180], got {self.degrees}")
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
        self.fill = check_real("fill", fill)

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
        self.brightness = check_nonnegative_float("brightness", brightness)
        self.contrast = check_nonnegative_float("contrast", contrast)
        self.saturation = check_nonnegative_float("saturation", saturation)

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
        self.p = check_unit_interval("p", p)
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
        self.value = check_real("value", value)

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
