"""Training augmentation: shapes, value ranges, label alignment after geometric transforms,
void preserved, photometric changes that leave the mask alone, determinism."""

from __future__ import annotations

import random

import numpy as np
import pytest

from segstudio.nets.augment import IGNORE, Augment, augment, photometric

PALETTE = np.array([[250, 10, 10], [10, 250, 10], [10, 10, 250], [240, 240, 20]], np.uint8)


def blocks(h=90, w=120, seed=0, void=True):
    """A mask of 15x15 blocks of classes 0..3 (a void band if `void`), and the image that paints
    each class its own colour: the image tells which label every pixel must carry."""
    rng = np.random.default_rng(seed)
    mask = np.kron(rng.integers(0, 4, (h // 15, w // 15)), np.ones((15, 15), np.int64)).astype(np.uint8)
    if void:
        mask[30:45, :] = IGNORE
    img = np.zeros((h, w, 3), np.uint8)
    valid = mask != IGNORE
    img[valid] = PALETTE[mask[valid]]
    return img, mask


def label_from_colour(img):
    d = np.abs(img[:, :, None, :].astype(np.int32) - PALETTE[None, None].astype(np.int32)).sum(-1)
    return d.argmin(-1), d.min(-1)


@pytest.mark.parametrize("aug", [
    Augment(scale_min=0.5, scale_max=1.5, crop=(64, 48), hflip=True),
    Augment(scale_min=0.7, scale_max=0.7, hflip=True),
    Augment(crop=(100, 80)),
])
def test_geometric_transforms_keep_labels_on_their_pixels(aug):
    img, mask = blocks()
    for seed in range(12):
        im, m = augment(img, mask, aug, random.Random(seed))
        assert im.dtype == np.uint8 and m.dtype == np.uint8
        assert im.shape[:2] == m.shape and im.shape[2] == 3
        if aug.crop:
            assert m.shape == (aug.crop[1], aug.crop[0])
        assert set(np.unique(m)) <= set(np.unique(mask))  # nearest neighbour: no invented label values
        labelled = m != IGNORE
        colour_label, dist = label_from_colour(im)
        clean = labelled & (dist < 30)  # away from block edges (interpolated colours)
        assert clean.sum() > 0.6 * labelled.sum()
        assert (colour_label[clean] == m[clean]).mean() > 0.99


def test_void_is_preserved_and_padding_is_void_and_black():
    img, mask = blocks()
    for seed in range(6):
        im, m = augment(img, mask, Augment(scale_min=0.8, scale_max=1.2, hflip=True), random.Random(seed))
        share = (m == IGNORE).mean()
        assert share == pytest.approx((mask == IGNORE).mean(), abs=0.03)
        rows = np.flatnonzero((m == IGNORE).all(1))  # the void band is still whole rows of void
        assert rows.size and np.ptp(rows) + 1 == rows.size
    im, m = augment(img, mask, Augment(crop=(150, 120)), random.Random(0))  # larger than the image
    assert m.shape == (120, 150) and (m[90:] == IGNORE).all() and (m[:, 120:] == IGNORE).all()
    assert (im[90:] == 0).all() and (im[:, 120:] == 0).all()
    assert np.array_equal(m[:90, :120], mask) and np.array_equal(im[:90, :120], img)


def test_horizontal_flip_mirrors_image_and_mask_together():
    img, mask = blocks(void=False)
    flips = 0
    for seed in range(10):
        im, m = augment(img, mask, Augment(hflip=True), random.Random(seed))
        if np.array_equal(m, mask[:, ::-1]):
            flips += 1
            assert np.array_equal(im, img[:, ::-1])
        else:
            assert np.array_equal(m, mask) and np.array_equal(im, img)
    assert 0 < flips < 10


def test_photometric_changes_the_image_only_within_range():
    rng = np.random.default_rng(1)
    img = rng.integers(40, 216, (60, 80, 3)).astype(np.uint8)
    mask = rng.integers(0, 4, (60, 80)).astype(np.uint8)
    aug = Augment(color_jitter=0.4, gamma=0.4, blur=1.0, noise=8.0)
    means = []
    for seed in range(20):
        im, m = augment(img, mask, aug, random.Random(seed))
        assert im.shape == img.shape and im.dtype == np.uint8
        assert np.array_equal(m, mask)  # labels never move under photometric changes
        assert not np.array_equal(im, img)
        means.append(im.mean() / img.mean())
    assert 0.4 < min(means) < 0.9 and 1.1 < max(means) < 2.0  # other light, not another picture


def test_each_photometric_transform_does_what_it_says():
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8)[None, :, None], (16, 1, 3))
    darker = [photometric(ramp, Augment(gamma=0.5), random.Random(s)) for s in range(20)]
    mids = [d[:, 32].mean() for d in darker]
    assert min(mids) < ramp[:, 32].mean() - 10 < ramp[:, 32].mean() + 10 < max(mids)  # gamma both ways
    assert all(d[0, 0, 0] == 0 and d[0, -1, 0] == 255 for d in darker)  # gamma keeps black and white
    checker = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, 2)
    blurred = photometric(checker, Augment(blur=1.0), random.Random(0))
    assert blurred.std() < 0.8 * checker.std()
    flat = np.full((64, 64, 3), 128, np.uint8)
    noisy = [photometric(flat, Augment(noise=10.0), random.Random(s)).astype(float) for s in range(10)]
    stds = [n.std() for n in noisy]
    assert max(stds) > 2 and max(stds) < 11 and all(abs(n.mean() - 128) < 2 for n in noisy)
    grey = photometric(ramp, Augment(color_jitter=0.5), random.Random(0))
    assert np.array_equal(grey[..., 0], grey[..., 1])  # saturation of grey stays grey


def test_augmentation_is_a_function_of_the_seed():
    img, mask = blocks()
    aug = Augment(scale_min=0.6, scale_max=1.4, crop=(64, 48), hflip=True, color_jitter=0.3, gamma=0.3,
                  blur=0.5, noise=5.0)
    a = augment(img, mask, aug, random.Random(7))
    b = augment(img, mask, aug, random.Random(7))
    c = augment(img, mask, aug, random.Random(8))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
