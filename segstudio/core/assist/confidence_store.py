"""Per-pixel confidence saved beside a mask, so it survives closing and reopening a project.

A prediction's confidence (0 = none, 255 = certain) is written as an 8-bit
grayscale PNG named like the mask in the hidden sub-folder `.confidence` of the
masks folder, atomically. Reading checks that the file is an 8-bit single-
channel PNG of the expected size; a stale or broken file (corrupt, truncated,
another size, more pixels than an image may have, a folder) is reported as
None with the problem naming the file (`read_confidence`), and the caller
computes a new map, written over it (confidence is advisory: it never blocks
opening a mask).
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from segstudio.core.atomic import atomic_write_bytes
from segstudio.core.imageio import DEFAULT_MAX_PIXELS

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


def read_confidence(masks_dir: str | Path, stem: str, size: tuple[int, int] | None = None
                    ) -> tuple[np.ndarray | None, str | None]:
    """(the saved uint8 confidence of `stem` or None, why a file there is not usable or None). Absent:
    (None, None)."""
    path = confidence_path(masks_dir, stem)
    if not path.exists():
        return None, None
    if not path.is_file():
        return None, f"{path}: not a file; ignored"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
            im = Image.open(path)
        with im:
            if im.format != "PNG" or im.mode != "L":
                return None, f"{path}: not an 8-bit grayscale PNG ({im.format} {im.mode}); ignored"
            if size is not None and im.size != tuple(size):
                return None, f"{path}: {im.size[0]}x{im.size[1]}, but the image is {size[0]}x{size[1]}; ignored"
            if im.size[0] * im.size[1] > DEFAULT_MAX_PIXELS:
                return None, f"{path}: {im.size[0]}x{im.size[1]} is larger than any image segstudio opens; ignored"
            return np.array(im), None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, Image.DecompressionBombError) as e:
        return None, f"{path}: cannot read confidence ({e}); ignored"


def load_confidence(masks_dir: str | Path, stem: str, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """The saved uint8 confidence of `stem`, or None if absent, unreadable or not `size` (w, h) (logged)."""
    conf, problem = read_confidence(masks_dir, stem, size)
    if problem:
        log.warning("%s", problem)
    return conf


def has_confidence(masks_dir: str | Path, stem: str) -> bool:
    """Whether a readable confidence map of `stem` is saved (decoded: a truncated one is not)."""
    return read_confidence(masks_dir, stem)[0] is not None


def mean_confidence(masks_dir: str | Path, stem: str) -> float | None:
    """Mean confidence in [0, 1] of a saved map (for sorting the review queue), or None."""
    conf = load_confidence(masks_dir, stem)
    return None if conf is None else float(conf.mean()) / 255.0
