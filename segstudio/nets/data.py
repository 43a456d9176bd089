"""Training data: finding image / mask pairs, splits, augmentation, class weights.

A data set is a list of `Sample(stem, image, mask)` for training and one for
validation. They come from image + mask folders paired by file stem, narrowed
by split lists (one stem or file name per line), or from a data root in one of
two layouts found automatically:

- Pascal VOC: `JPEGImages/`, `SegmentationClass/`, `ImageSets/Segmentation/{train,val}.txt`;
- CamVid (SegNet tutorial): `train/`, `trainannot/`, `val/`, `valannot/`
  (and optional `train.txt` / `val.txt` lists of stems).

`SegmentationDataset` decodes each pair once at a base resolution (`scale` or
`size`), keeps it in memory when it fits, and applies the random training
augmentation (scale, crop, horizontal flip, colour jitter) per item. Items are
uint8 tensors; normalisation to the model's input convention happens on the
device, in the trainer. Mask values outside 0..K-1 become the ignore value 255.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from segstudio.core.errors import SegstudioError
from segstudio.core.imageio import image_size, label_pngs, list_images, load_image, read_label_png

from .augment import IGNORE, Augment, augment, resize_pair

class DataError(SegstudioError, ValueError):
    """A training data set that cannot be used as given."""


@dataclass(frozen=True)
class Sample:
    stem: str
    image: Path
    mask: Path


@dataclass
class DataSplit:
    train: list[Sample]
    val: list[Sample]  # the split that picks the best checkpoint (held-out sequences when given)
    description: str = ""
    extra: dict[str, list[Sample]] = field(default_factory=dict)  # also evaluated, e.g. {"val": standard val}
    val_name: str = "validation"

    def digest(self) -> str:
        """sha256 of the split's file list (split name and image file name per line): names the
        exact data a model saw without recording where it lay on the training machine."""
        h = hashlib.sha256()
        for name, samples in (("train", self.train), (self.val_name, self.val), *sorted(self.extra.items())):
            for s in sorted(samples, key=lambda s: s.stem):
                h.update(f"{name}\t{s.image.name}\t{s.mask.name}\n".encode("utf-8"))
        return h.hexdigest()

    def to_dict(self) -> dict:
        d = {"train_images": len(self.train), "val_images": len(self.val), "source": self.description,
             "val_split": self.val_name, "file_list_sha256": self.digest()}
        if self.extra:
            d["also_evaluated"] = {name: len(samples) for name, samples in self.extra.items()}
        return d


def sequence_of(stem: str) -> str:
    """CamVid-style sequence name of a stem: the part before the first underscore ("0006R0_f02430")."""
    return stem.split("_", 1)[0]


def hold_out_sequences(split: DataSplit, sequences: list[str]) -> DataSplit:
    """Move the training frames of `sequences` to the validation split; the previous validation
    split (e.g. CamVid's standard val) is kept as the extra split "val"."""
    wanted = {s.strip() for s in sequences if s.strip()}
    if not wanted:
        raise DataError("--val-sequences names no sequence")
    held = [s for s in split.train if sequence_of(s.stem) in wanted]
    found = sorted({sequence_of(s.stem) for s in split.train})
    missing = sorted(wanted - {sequence_of(s.stem) for s in held})
    if missing:
        raise DataError(f"no training images of sequence(s) {', '.join(missing)} ({split.description}); "
                        f"training stems start with: {', '.join(found[:12])}")
    train = [s for s in split.train if sequence_of(s.stem) not in wanted]
    extra = dict(split.extra)
    if split.val:
        extra["val"] = split.val
    return DataSplit(train, held, split.description, extra, "held-out sequences " + ",".join(sorted(wanted)))


# --- finding pairs ----------------------------------------------------------
def read_split_list(path: str | Path) -> list[str]:
    """Stems listed in a split file: one per line, a stem or a (relative) file name;
    only the first whitespace-separated field counts, so SegNet's "image mask" lines work."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"{path}: cannot read split list ({e.strerror or e})") from None
    stems = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        stems.append(Path(line.split()[0]).stem)
    if not stems:
        raise DataError(f"{path}: split list is empty")
    return stems


def _mask_index(masks_dir: Path) -> dict[str, Path]:
    if not masks_dir.is_dir():
        raise DataError(f"{masks_dir}: mask folder not found")
    return label_pngs(masks_dir)


def pair_folder(images_dir: str | Path, masks_dir: str | Path, stems: list[str] | None = None,
                list_name: str = "") -> list[Sample]:
    """Images of `images_dir` that have a `<stem>.png` in `masks_dir` (all listed ones, if `stems`)."""
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    if not images_dir.is_dir():
        raise DataError(f"{images_dir}: image folder not found")
    images = {p.stem: p for p in list_images(images_dir)}
    masks = _mask_index(masks_dir)
    if stems is None:
        return [Sample(s, images[s], masks[s]) for s in sorted(images) if s in masks]
    missing_img = [s for s in stems if s not in images]
    missing_mask = [s for s in stems if s in images and s not in masks]
    where = f" (listed in {list_name})" if list_name else ""
    if missing_img:
        raise DataError(f"{images_dir}: no image for {len(missing_img)} stem(s){where}, "
                        f"e.g. {missing_img[0]!r}")
    if missing_mask:
        raise DataError(f"{masks_dir}: no mask PNG for {len(missing_mask)} image(s){where}, "
                        f"e.g. {missing_mask[0]!r}")
    return [Sample(s, images[s], masks[s]) for s in stems]


def split_fraction(samples: list[Sample], val_fraction: float, seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    """A seeded random split; at least one validation sample when the fraction is > 0."""
    if not 0 <= val_fraction < 1:
        raise DataError(f"validation fraction must be in [0, 1), got {val_fraction}")
    if val_fraction == 0 or len(samples) < 2:
        return list(samples), []
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    n_val = min(len(samples) - 1, max(1, round(len(samples) * val_fraction)))
    val_idx = set(order[:n_val])
    return ([s for i, s in enumerate(samples) if i not in val_idx],
            [s for i, s in enumerate(samples) if i in val_idx])


def detect_layout(root: str | Path) -> str:
    """"voc" or "camvid" for a data root, or DataError explaining what was expected."""
    root = Path(root)
    if (root / "JPEGImages").is_dir() and (root / "SegmentationClass").is_dir():
        return "voc"
    if (root / "train").is_dir() and (root / "trainannot").is_dir():
        return "camvid"
    raise DataError(f"{root}: not a known data layout; expected JPEGImages/ + SegmentationClass/ "
                    "(Pascal VOC) or train/ + trainannot/ (CamVid)")


def find_data(root: str | Path | None = None, *, images: str | Path | None = None,
              masks: str | Path | None = None, train_list: str | Path | None = None,
              val_list: str | Path | None = None, val_images: str | Path | None = None,
              val_masks: str | Path | None = None, val_fraction: float = 0.0, seed: int = 0,
              val_sequences: list[str] | None = None) -> DataSplit:
    """Training and validation samples from a data root or from folders + lists; with
    `val_sequences`, those sequences' training frames validate (`hold_out_sequences`)."""
    if root is not None:
        root = Path(root)
        layout = detect_layout(root)
        if layout == "voc":
            sets = root / "ImageSets" / "Segmentation"
            images, masks = root / "JPEGImages", root / "SegmentationClass"
            train_list = train_list or (sets / "train.txt" if (sets / "train.txt").is_file() else None)
            if val_list is None and val_fraction == 0 and (sets / "val.txt").is_file():
                val_list = sets / "val.txt"
        else:
            images, masks = root / "train", root / "trainannot"
            train_list = train_list or (root / "train.txt" if (root / "train.txt").is_file() else None)
            if val_list is None and val_fraction == 0 and (root / "val").is_dir():
                val_images, val_masks = root / "val", root / "valannot"
                val_list = root / "val.txt" if (root / "val.txt").is_file() else None
        description = f"{root.resolve().name} ({layout} layout)"
    else:
        if images is None or masks is None:
            raise DataError("give a data root, or both an image folder and a mask folder")
        description = f"images {Path(images).name}/, masks {Path(masks).name}/"
    train_stems = read_split_list(train_list) if train_list else None
    if val_list is not None:
        vi, vm = Path(val_images or images), Path(val_masks or masks)
        val = pair_folder(vi, vm, read_split_list(val_list), str(val_list))
        train = pair_folder(images, masks, train_stems, str(train_list or ""))
        if train_stems is None and vi.resolve() == Path(images).resolve():
            val_stems = {s.stem for s in val}
            train = [s for s in train if s.stem not in val_stems]
    elif val_images is not None:
        val = pair_folder(val_images, val_masks or val_images)
        train = pair_folder(images, masks, train_stems, str(train_list or ""))
    else:
        train, val = split_fraction(pair_folder(images, masks, train_stems, str(train_list or "")),
                                    val_fraction, seed)
    split = DataSplit(train, val, description)
    if val_sequences:
        split = hold_out_sequences(split, val_sequences)
    return _checked(split)


def _checked(split: DataSplit) -> DataSplit:
    if not split.train:
        raise DataError(f"no training images with masks found ({split.description})")
    evaluated = [s for samples in (split.val, *split.extra.values()) for s in samples]
    overlap = {s.image.resolve() for s in split.train} & {s.image.resolve() for s in evaluated}
    if overlap:
        raise DataError(f"{len(overlap)} image(s) are in both the training and the validation split, "
                        f"e.g. {sorted(overlap)[0]}")
    return split


# --- class weights ----------------------------------------------------------
def class_pixel_counts(masks, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(pixels of each class, total pixels of the images where that class is present).

    `masks` yields H x W uint8 arrays or mask paths; values outside the classes count
    toward an image's total but toward no class."""
    counts = np.zeros(num_classes, np.int64)
    totals = np.zeros(num_classes, np.int64)
    for m in masks:
        if not isinstance(m, np.ndarray):
            m = read_label_png(m)
        h = np.bincount(m.ravel(), minlength=256)[:num_classes]
        counts += h
        totals += np.where(h > 0, m.size, 0)
    return counts, totals


def median_frequency_weights(counts: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """SegNet's median-frequency balancing: freq(c) = counts[c] / totals[c],
    weight(c) = median(freq) / freq(c). Classes never seen get weight 0 (no pixel
    of theirs is ever in the loss); the median is over the classes seen."""
    counts = np.asarray(counts, np.float64)
    totals = np.asarray(totals, np.float64)
    seen = counts > 0
    if not seen.any():
        raise DataError("no class pixels in the training masks: cannot compute class weights")
    freq = np.zeros_like(counts)
    freq[seen] = counts[seen] / totals[seen]
    med = float(np.median(freq[seen]))
    w = np.zeros_like(counts)
    w[seen] = med / freq[seen]
    return w


def tempered_weights(weights: np.ndarray, power: float = 1.0, cap: float | None = None) -> np.ndarray:
    """Class weights raised to `power` (0.5: square root of median frequency) and capped at
    `cap`: softer than plain median-frequency, which makes a model over-predict rare classes."""
    w = np.asarray(weights, np.float64) ** power
    if cap is not None:
        w = np.minimum(w, cap)
    return w


# --- loading and augmentation -----------------------------------------------
def parse_size(text: str) -> tuple[int, int]:
    """"480x360" -> (480, 360)."""
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise DataError(f"size must be WIDTHxHEIGHT, e.g. 480x360, got {text!r}") from None
    if w < 8 or h < 8:
        raise DataError(f"size {w}x{h} is too small (at least 8x8)")
    return w, h


def base_size(w: int, h: int, scale: float | None, size: tuple[int, int] | int | None) -> tuple[int, int]:
    """The base resolution: a fixed `size` (W, H), a short side (an int), or `scale` times the image's."""
    if isinstance(size, int):
        f = size / max(1, min(w, h))
        return max(1, round(w * f)), max(1, round(h * f))
    if size is not None:
        return size
    if scale is not None and scale != 1.0:
        return max(1, round(w * scale)), max(1, round(h * scale))
    return w, h


def load_pair(sample: Sample, num_classes: int, scale: float | None = None,
              size: tuple[int, int] | int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(H x W x 3 RGB uint8, H x W uint8 mask with non-class values set to IGNORE) at the base size."""
    img = load_image(sample.image)
    mask = read_label_png(sample.mask, expected_size=(img.shape[1], img.shape[0]), image_path=sample.image)
    mask = np.where(mask < num_classes, mask, IGNORE).astype(np.uint8)
    w, h = base_size(img.shape[1], img.shape[0], scale, size)
    return resize_pair(img, mask, w, h)


class SegmentationDataset(Dataset):
    """Image / mask pairs at a base resolution, optionally augmented.

    Items are (3 x H x W uint8 tensor, H x W int64 tensor with IGNORE for void,
    index). With `cache=True` every pair is decoded once and kept in memory.
    Augmentation randomness is a function of (seed, epoch, index), so it is the
    same whatever the number of workers or processes."""

    def __init__(self, samples: list[Sample], num_classes: int, *, scale: float | None = None,
                 size: tuple[int, int] | int | None = None, augment: Augment | None = None,
                 cache: bool = True, seed: int = 0):
        self.samples = list(samples)
        self.num_classes = num_classes
        self.scale, self.size = scale, size
        self.aug = augment or Augment()
        self.seed = seed
        self.epoch = 0
        self._cache: list | None = [None] * len(self.samples) if cache else None

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def preload(self, progress=None) -> None:
        if self._cache is None:
            return
        for i in range(len(self.samples)):
            self.pair(i)
            if progress:
                progress(i + 1, len(self.samples))

    def pair(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is not None and self._cache[i] is not None:
            return self._cache[i]
        p = load_pair(self.samples[i], self.num_classes, self.scale, self.size)
        if self._cache is not None:
            self._cache[i] = p
        return p

    def masks(self):
        """Masks at the base resolution (for class statistics)."""
        for i in range(len(self)):
            yield self.pair(i)[1]

    def __getitem__(self, i: int):
        img, mask = self.pair(i)
        if self.aug.active:
            rng = random.Random(hash((self.seed, self.epoch, i)) & 0xFFFFFFFF)
            img, mask = augment(img, mask, self.aug, rng)
        x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        y = torch.from_numpy(mask.astype(np.int64))
        return x, y, i


def pad_collate(batch):
    """Stack items, padding smaller ones at the bottom / right (image 0, mask IGNORE)."""
    h = max(x.shape[1] for x, _, _ in batch)
    w = max(x.shape[2] for x, _, _ in batch)
    xs = torch.zeros((len(batch), 3, h, w), dtype=torch.uint8)
    ys = torch.full((len(batch), h, w), IGNORE, dtype=torch.int64)
    for k, (x, y, _) in enumerate(batch):
        xs[k, :, : x.shape[1], : x.shape[2]] = x
        ys[k, : y.shape[0], : y.shape[1]] = y
    return xs, ys, torch.tensor([i for _, _, i in batch])


def estimate_bytes(samples: list[Sample], scale: float | None, size: tuple[int, int] | int | None,
                   probe: int = 3) -> int:
    """Rough memory needed to cache the samples at the base resolution (4 bytes per pixel)."""
    if not samples:
        return 0
    total = 0
    step = max(1, len(samples) // probe)
    probed = samples[::step][:probe]
    for s in probed:
        w, h = image_size(s.image)
        bw, bh = base_size(w, h, scale, size)
        total += 4 * bw * bh
    return int(math.ceil(total / len(probed) * len(samples)))
