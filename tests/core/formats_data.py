"""Small real files for the format tests: images, label PNGs, label sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from segstudio.core.imageio import write_label_png
from segstudio.core.labels import LabelSet

LS3 = LabelSet(names=("road", "car", "tree"), colors=((128, 64, 128), (64, 0, 128), (128, 128, 0)),
               ignore_index=7, ignore_color=(0, 0, 0), name="tiny")


def ring_mask(h: int = 24, w: int = 32) -> np.ndarray:
    """road everywhere, a car ring with a hole (holding a tree island), a 1-px pole of tree, void corner."""
    m = np.zeros((h, w), np.uint8)
    m[4:16, 4:16] = 1
    m[7:13, 7:13] = 0  # hole
    m[9:11, 9:11] = 2  # island of another class inside the hole
    m[2:20, 20] = 2  # one pixel wide stroke
    m[18:22, 24:28] = 1  # separate car blob
    m[23, 25] = 2  # a single pixel
    m[0:3, 28:32] = LS3.ignore_index
    return m


def make_dataset(root: Path, n: int = 3, jpeg: bool = False, size=(32, 24)) -> tuple[Path, Path, list[np.ndarray]]:
    """images/ and masks/ with n pairs; returns (images_dir, masks_dir, masks)."""
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    rng = np.random.default_rng(0)
    out = []
    w, h = size
    for i in range(n):
        stem = f"img{i}"
        pixels = rng.integers(0, 255, (h, w, 3), np.uint8)
        if jpeg and i % 2 == 0:
            Image.fromarray(pixels).save(images / f"{stem}.jpg", quality=90)
        else:
            Image.fromarray(pixels).save(images / f"{stem}.png")
        m = np.roll(ring_mask(h, w), i, axis=1)
        write_label_png(masks / f"{stem}.png", m, LS3)
        out.append(m)
    return images, masks, out
