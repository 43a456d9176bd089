"""Per-pixel confidence saved beside a mask, so it survives closing and reopening a project.

A prediction's confidence (0 = none, 255 = certain) is written as an 8-bit
grayscale PNG named like the mask in the hidden sub-folder `.confidence` of the
masks folder, atomically. Reading checks that the file is an 8-bit single-
channel PNG of the expected size; a stale or broken file is reported as None
(confidence is advisory: it never blocks opening a mask).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from segstudio.core.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

FOLDER = ".confidence"


def confidence_path(masks_dir: str | Path, stem: str) -> Path:
    return Path(masks_dir) / FOLDER / f"{stem}.png"


def to_uint8(conf: np.ndarray) -> np.ndarray:
    """Float confidence in [0, 1] (or uint8 already) as uint8 0..255."""
    if conf.dtype == np.uint8:
        return conf
    return np.clip(np.rint(conf.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


def save_confidence(masks_dir: str | Path, stem: str, conf: np.ndarray) -> Path:
    """Write the confidence map of image `stem` atomically; returns its path."""
    if conf.ndim != 2:
        raise ValueError(f"confidence must be HxW, got shape {conf.shape}")
    buf = io.BytesIO()
    Image.fromarray(to_uint8(conf), mode="L").save(buf, format="PNG", compress_level=3)
    path = confidence_path(masks_dir, stem)
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_confidence(masks_dir: str | Path, stem: str, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """The saved uint8 confidence of `stem`, or None if absent, unreadable or not `size` (w, h)."""
    path = confidence_path(masks_dir, stem)
    if not path.is_file():
        return None
    try:
        with Image.open(path) as im:
            if im.format != "PNG" or im.mode != "L":
                log.warning("%s: not an 8-bit grayscale PNG (%s %s); ignored", path, im.format, im.mode)
                return None
            if size is not None and im.size != tuple(size):
                log.warning("%s: %dx%d, but the image is %dx%d; ignored", path, *im.size, *size)
                return None
            return np.array(im)
    except (OSError, ValueError) as e:
        log.warning("%s: cannot read confidence (%s); ignored", path, e)
        return None


def mean_confidence(masks_dir: str | Path, stem: str) -> float | None:
    """Mean confidence in [0, 1] of a saved map (for sorting the review queue), or None."""
    conf = load_confidence(masks_dir, stem)
    return None if conf is None else float(conf.mean()) / 255.0
