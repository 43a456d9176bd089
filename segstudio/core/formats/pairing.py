"""Pairing an images folder with a masks folder (`<image stem>.png`) for exports.

Also the checks an exported mask must pass (its image's size, the label set's
values) and the lookup of images by file name or stem that imports use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SegstudioError
from ..imageio import image_size, label_pngs, list_images, read_label_png
from ..labels import LabelSet


@dataclass
class MaskPair:
    stem: str
    image: Path
    mask: Path | None


@dataclass
class Pairing:
    pairs: list[MaskPair]  # images that have a mask
    unannotated: list[str] = field(default_factory=list)  # images with no mask
    orphan_masks: list[str] = field(default_factory=list)  # masks with no image


def _listed(names: list[str], limit: int = 10) -> str:
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")


def unpaired_lines(unannotated: list[str], orphan_masks: list[str]) -> list[str]:
    """Summary lines about images without masks and masks without images (not exported)."""
    out = []
    if unannotated:
        out.append(f"{len(unannotated)} image(s) without a mask were not exported: {_listed(unannotated)}")
    if orphan_masks:
        out.append(f"{len(orphan_masks)} mask(s) without an image were not exported: {_listed(orphan_masks)}")
    return out


def pair_images_masks(images_dir: str | Path, masks_dir: str | Path) -> Pairing:
    """Pair `images_dir/<stem>.<ext>` with `masks_dir/<stem>.png`."""
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    if not images_dir.is_dir():
        raise SegstudioError(f"{images_dir}: images folder not found")
    if not masks_dir.is_dir():
        raise SegstudioError(f"{masks_dir}: masks folder not found")
    images: dict[str, Path] = {}
    for p in list_images(images_dir):
        if p.stem in images:
            raise SegstudioError(f"{images_dir}: two images share the name {p.stem!r} "
                                 f"({images[p.stem].name} and {p.name}); their masks would collide")
        images[p.stem] = p
    masks = label_pngs(masks_dir)
    pairs = [MaskPair(s, images[s], masks[s]) for s in sorted(images) if s in masks]
    return Pairing(pairs=pairs,
                   unannotated=sorted(set(images) - set(masks)),
                   orphan_masks=sorted(set(masks) - set(images)))


def read_mask_for(pair: MaskPair, labelset: LabelSet) -> np.ndarray:
    """The pair's label map, checked against its image size and the label set's values."""
    size = image_size(pair.image)
    labels = read_label_png(pair.mask, expected_size=size, image_path=pair.image)
    check_values(labels, labelset, pair.mask)
    return labels


def check_values(labels: np.ndarray, labelset: LabelSet, path: Path) -> None:
    k, ig = labelset.num_classes, labelset.ignore_index
    counts = np.bincount(labels.ravel(), minlength=256)
    bad = [v for v in np.flatnonzero(counts) if v >= k and v != ig]
    if bad:
        shown = ", ".join(str(v) for v in bad[:8])
        raise SegstudioError(f"{path}: label values {shown} are neither classes 0..{k - 1} "
                             f"nor the ignore index {ig} of label set {labelset.name or '(unnamed)'}")


def images_by_name(images_dir: Path) -> dict[str, Path]:
    """Images of a folder by file name and by stem (for imports that name an image)."""
    out: dict[str, Path] = {}
    for p in list_images(images_dir):
        out[p.name] = p
        out.setdefault(p.stem, p)
    return out
