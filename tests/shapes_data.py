"""A tiny synthetic segmentation data set: coloured shapes on textured backgrounds.

Used by the tests (it is test data, so it lives here, not in the package): class 0 is the
background, 1 a disc, 2 a square (3 classes); a one-pixel ring around each
shape is left unlabelled (255). The background
is grey texture while the shapes are saturated (red-ish discs, blue-ish squares), so
a small network learns it in seconds; the unlabelled rings exercise the ignore index.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from segstudio.core.imageio import write_label_png
from segstudio.core.labels import LabelSet

SHAPES_LABELSET = LabelSet(("background", "disc", "square"), ((0, 0, 0), (220, 40, 40), (40, 40, 220)),
                           ignore_index=255, name="shapes")


def shapes_pair(rng: np.random.Generator, size: tuple[int, int] = (64, 48)) -> tuple[np.ndarray, np.ndarray]:
    """(H x W x 3 uint8 image, H x W uint8 labels) with one disc and one square."""
    w, h = size
    gray = cv2.GaussianBlur(rng.integers(40, 200, (h, w)).astype(np.uint8), (5, 5), 0)
    img = np.clip(gray[..., None].astype(np.int16) + rng.integers(-12, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    labels = np.zeros((h, w), np.uint8)
    r = int(rng.integers(min(w, h) // 6, min(w, h) // 4))
    cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, h - r))
    s = int(rng.integers(min(w, h) // 3, min(w, h) // 2))
    x0, y0 = int(rng.integers(0, w - s)), int(rng.integers(0, h - s))
    for cls, color, draw in (
        (2, (40, 60, 200), lambda m, v, t: cv2.rectangle(m, (x0, y0), (x0 + s, y0 + s), v, t)),
        (1, (200, 60, 40), lambda m, v, t: cv2.circle(m, (cx, cy), r, v, t)),
    ):
        mask = np.zeros((h, w), np.uint8)
        draw(mask, 1, -1)
        jitter = rng.integers(-30, 30, 3)
        img[mask > 0] = np.clip(np.array(color) + jitter, 0, 255).astype(np.uint8)
        labels[mask > 0] = cls
        ring = np.zeros((h, w), np.uint8)
        draw(ring, 1, 1)
        labels[ring > 0] = 255
    return img, labels


def write_shapes_dataset(root: str | Path, n_train: int = 16, n_val: int = 4, size: tuple[int, int] = (64, 48),
                         seed: int = 0, layout: str = "folders") -> Path:
    """Write the data set under `root` and return it.

    layout "folders": images/ + masks/ + train.txt / val.txt (stems);
    layout "camvid": train/, trainannot/, val/, valannot/, train.txt, val.txt;
    layout "voc": JPEGImages/ (PNG files), SegmentationClass/, ImageSets/Segmentation/{train,val}.txt.
    """
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    dirs = {"folders": ("images", "masks", "images", "masks", root),
            "camvid": ("train", "trainannot", "val", "valannot", root),
            "voc": ("JPEGImages", "SegmentationClass", "JPEGImages", "SegmentationClass",
                    root / "ImageSets" / "Segmentation")}[layout]
    lists = dirs[4]
    lists.mkdir(parents=True, exist_ok=True)
    for split, n, (idir, mdir) in (("train", n_train, dirs[0:2]), ("val", n_val, dirs[2:4])):
        stems = []
        for i in range(n):
            stem = f"{split}_{i:03d}"
            img, labels = shapes_pair(rng, size)
            (root / idir).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / idir / f"{stem}.png")
            write_label_png(root / mdir / f"{stem}.png", labels, SHAPES_LABELSET)
            stems.append(stem)
        (lists / f"{split}.txt").write_text("".join(s + "\n" for s in stems))
    return root
