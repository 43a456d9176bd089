"""Random training augmentation of an (image, mask) pair, uint8 in and out.

Geometric transforms (random rescale, random crop, horizontal flip) move the
image and its mask together: the image is resampled with area / bilinear
interpolation, the mask with nearest neighbour, and pixels a transform brings
in from outside the picture are black in the image and void (`IGNORE`) in the
mask, so no invented pixel is ever trained on. Photometric transforms
(brightness, contrast, saturation, gamma, slight blur, sensor noise) touch the
image only; they imitate other light and other cameras, which is what a model
trained on a few CamVid sequences needs to generalise to other streets.

Randomness comes from the `random.Random` passed in, so an item's augmentation
is a function of (seed, epoch, index) whatever the number of workers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import cv2
import numpy as np

IGNORE = 255  # the trainer's single ignore value (void)


@dataclass
class Augment:
    """Random training augmentation; everything off by default."""

    scale_min: float = 1.0
    scale_max: float = 1.0
    crop: tuple[int, int] | None = None  # (width, height)
    hflip: bool = False
    color_jitter: float = 0.0  # max relative change of brightness, contrast, saturation
    gamma: float = 0.0  # gamma drawn log-uniformly in [exp(-g), exp(g)]
    blur: float = 0.0  # probability of a slight Gaussian blur (sigma 0.4..1.2 px)
    noise: float = 0.0  # max standard deviation of Gaussian noise, in 0..255 levels

    @property
    def geometric(self) -> bool:
        return self.scale_min != 1.0 or self.scale_max != 1.0 or self.crop is not None or self.hflip

    @property
    def photometric(self) -> bool:
        return self.color_jitter > 0 or self.gamma > 0 or self.blur > 0 or self.noise > 0

    @property
    def active(self) -> bool:
        return self.geometric or self.photometric


def resize_pair(img: np.ndarray, mask: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Image (area when shrinking, bilinear when enlarging) and mask (nearest) at w x h."""
    if (img.shape[1], img.shape[0]) != (w, h):
        shrink = w < img.shape[1]
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    return img, mask


def random_crop(img: np.ndarray, mask: np.ndarray, cw: int, ch: int,
                rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """A cw x ch window; a smaller pair is padded first (image black, mask void)."""
    h, w = mask.shape
    if h < ch or w < cw:
        ph, pw = max(0, ch - h), max(0, cw - w)
        img = cv2.copyMakeBorder(img, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        mask = cv2.copyMakeBorder(mask, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=IGNORE)
        h, w = mask.shape
    y, x = rng.randint(0, h - ch), rng.randint(0, w - cw)
    return img[y:y + ch, x:x + cw], mask[y:y + ch, x:x + cw]


def _color(f: np.ndarray, amount: float, rng: random.Random) -> np.ndarray:
    b = 1 + rng.uniform(-amount, amount)
    c = 1 + rng.uniform(-amount, amount)
    s = 1 + rng.uniform(-amount, amount)
    gray = f @ np.array([0.299, 0.587, 0.114], np.float32)
    f = gray[..., None] + (f - gray[..., None]) * s
    mean = float(f.mean())
    return ((f - mean) * c + mean) * b


def photometric(img: np.ndarray, aug: Augment, rng: random.Random) -> np.ndarray:
    """The photometric part of `aug` applied to an H x W x 3 uint8 RGB image."""
    if aug.gamma > 0:
        g = math.exp(rng.uniform(-aug.gamma, aug.gamma))
        lut = np.clip(255.0 * (np.arange(256) / 255.0) ** g + 0.5, 0, 255).astype(np.uint8)
        img = cv2.LUT(np.ascontiguousarray(img), lut)
    if aug.blur > 0 and rng.random() < aug.blur:
        img = cv2.GaussianBlur(np.ascontiguousarray(img), (0, 0), rng.uniform(0.4, 1.2))
    if aug.color_jitter <= 0 and aug.noise <= 0:
        return img
    f = img.astype(np.float32)
    if aug.color_jitter > 0:
        f = _color(f, aug.color_jitter, rng)
    if aug.noise > 0:
        sigma = rng.uniform(0, aug.noise)
        f = f + np.random.default_rng(rng.getrandbits(32)).standard_normal(f.shape, np.float32) * sigma
    return np.clip(f + 0.5, 0, 255).astype(np.uint8)


def augment(img: np.ndarray, mask: np.ndarray, aug: Augment, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """The pair after `aug`'s random geometric then photometric transforms (contiguous arrays)."""
    if aug.scale_min != 1.0 or aug.scale_max != 1.0:
        s = rng.uniform(aug.scale_min, aug.scale_max)
        h, w = mask.shape
        img, mask = resize_pair(img, mask, max(1, round(w * s)), max(1, round(h * s)))
    if aug.crop is not None:
        img, mask = random_crop(img, mask, aug.crop[0], aug.crop[1], rng)
    if aug.hflip and rng.random() < 0.5:
        img, mask = img[:, ::-1], mask[:, ::-1]
    if aug.photometric:
        img = photometric(np.ascontiguousarray(img), aug, rng)
    return np.ascontiguousarray(img), np.ascontiguousarray(mask)
