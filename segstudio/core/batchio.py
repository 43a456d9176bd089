"""Plumbing shared by the batch exports and imports.

- pairing an images folder with a masks folder (`<image stem>.png`),
- the `progress(i, n)` / `cancelled() -> bool` callbacks every batch function
  takes, so the CLI (progress bar, Ctrl+C) and the GUI (worker thread, Cancel
  button) drive the same code,
- staging output beside its destination and renaming it into place only when
  the whole batch succeeded, so a cancelled or failed run leaves nothing
  half-written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .atomic import atomic_path
from .errors import SegstudioError
from .imageio import image_size, label_pngs, list_images, read_label_png
from .labels import LabelSet

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


class Cancelled(Exception):
    """The user cancelled a batch export or import; nothing was written."""


def check_cancel(cancelled: CancelFn | None) -> None:
    if cancelled is not None and cancelled():
        raise Cancelled()


def report(progress: ProgressFn | None, i: int, n: int) -> None:
    if progress is not None:
        progress(i, n)


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


# --- staged output ---------------------------------------------------------------
def _prepare_destination(final: Path, overwrite: bool) -> None:
    if final.exists() or final.is_symlink():
        if final.is_dir() and not final.is_symlink() and not any(final.iterdir()):
            return
        if not overwrite:
            raise SegstudioError(f"{final}: already exists; choose another output or allow overwriting")


@contextlib.contextmanager
def staged_dir(final: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside `final`; on success it replaces `final`.

    On any exception (including Cancelled) the temporary folder is deleted and
    `final` is left as it was.
    """
    final = Path(final)
    _prepare_destination(final, overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    try:
        yield tmp
        old = None
        if final.exists() or final.is_symlink():
            if final.is_dir() and not final.is_symlink():
                old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
                os.rmdir(old)
                os.replace(final, old)
            else:
                os.unlink(final)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def staged_file(final: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary file path beside `final`; on success it replaces `final`."""
    final = Path(final)
    if final.is_dir():
        raise SegstudioError(f"{final}: is a folder; give a file name for the output")
    _prepare_destination(final, overwrite)
    with atomic_path(final, suffix=final.suffix) as tmp:
        yield tmp


def commit_files(staging: Path, dest_dir: Path) -> list[Path]:
    """Move every file of `staging` into `dest_dir` (one atomic rename each), then remove `staging`."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    moved = []
    for p in sorted(staging.iterdir()):
        target = dest_dir / p.name
        os.replace(p, target)
        moved.append(target)
    shutil.rmtree(staging, ignore_errors=True)
    return moved


@dataclass
class ImportSummary:
    """What an import wrote, skipped and could not map."""

    out_dir: Path
    written: list[str] = field(default_factory=list)  # stems of masks written
    skipped: dict[str, str] = field(default_factory=dict)  # source -> reason
    unknown: dict[str, int] = field(default_factory=dict)  # class name -> shapes / pixels skipped
    to_unlabelled: dict[str, int] = field(default_factory=dict)  # background-like names mapped to ignore
    mapped: dict[str, str] = field(default_factory=dict)  # source name -> label-set name
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{len(self.written)} mask(s) written to {self.out_dir}"]
        for name, n in sorted(self.unknown.items()):
            out.append(f"unknown class {name!r}: {n} skipped (not in the label set)")
        for name, n in sorted(self.to_unlabelled.items()):
            out.append(f"{name!r}: {n} mapped to unlabelled (the label set has no such class)")
        for src, dst in sorted(self.mapped.items()):
            out.append(f"class {src!r} imported as {dst!r}")
        for src, why in sorted(self.skipped.items()):
            out.append(f"skipped {src}: {why}")
        out.extend(self.notes)
        return out


class UnknownClassesError(SegstudioError):
    """Imported annotations use class names the label set does not have."""

    def __init__(self, unknown: dict[str, int], source: str | Path, labelset: LabelSet, unit: str = "annotations"):
        self.unknown = dict(unknown)
        names = ", ".join(f"{n!r} ({c} {unit})" for n, c in sorted(unknown.items()))
        super().__init__(
            f"{source}: class name(s) not in label set {labelset.name or '(unnamed)'}: {names}. "
            f"Known classes: {', '.join(labelset.names)}. Map them (--map SRC=DST, DST may be 'ignore') "
            "or skip them (--skip-unknown)."
        )


BACKGROUND_NAMES = frozenset({"background", "_background_", "__background__", "bg", "void", "unlabelled", "unlabeled"})


class ClassMapper:
    """Resolves class names from imported files to label-set indices.

    Order: an explicit mapping (`{"src": "dst" | "ignore"}`), the exact name, a
    unique case-insensitive match, then background-like names (background,
    _background_, void, ...) become the ignore index when the label set has no
    such class. Anything else is unknown: counted, and its annotations skipped.
    """

    def __init__(self, labelset: LabelSet, mapping: dict[str, str] | None = None):
        self.labelset = labelset
        self.mapping = dict(mapping or {})
        self.unknown: dict[str, int] = {}
        self.to_unlabelled: dict[str, int] = {}
        self.mapped: dict[str, str] = {}
        lower: dict[str, list[str]] = {}
        for n in labelset.names:
            lower.setdefault(n.lower(), []).append(n)
        self._lower = lower
        for src, dst in self.mapping.items():
            if dst.lower() not in ("ignore", "unlabelled", "unlabeled") and labelset.get_index(dst) is None:
                raise SegstudioError(f"mapping {src}={dst}: {dst!r} is not a class of the label set "
                                     f"({', '.join(labelset.names)}) nor 'ignore'")

    def index(self, name: str, count: int = 1) -> int | None:
        """Label-set index for `name` (the ignore index for unlabelled), or None if unknown."""
        ls = self.labelset
        if name in self.mapping:
            dst = self.mapping[name]
            if dst.lower() in ("ignore", "unlabelled", "unlabeled"):
                self.to_unlabelled[name] = self.to_unlabelled.get(name, 0) + count
                return ls.ignore_index
            self.mapped[name] = dst
            return ls.index_of(dst)
        i = ls.get_index(name)
        if i is not None:
            return i
        matches = self._lower.get(str(name).lower(), [])
        if len(matches) == 1:
            self.mapped[name] = matches[0]
            return ls.index_of(matches[0])
        if str(name).lower() in BACKGROUND_NAMES:
            self.to_unlabelled[name] = self.to_unlabelled.get(name, 0) + count
            return ls.ignore_index
        self.unknown[name] = self.unknown.get(name, 0) + count
        return None

    def fill_summary(self, summary: ImportSummary) -> None:
        summary.unknown.update(self.unknown)
        summary.to_unlabelled.update(self.to_unlabelled)
        summary.mapped.update(self.mapped)


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """`["old=new", "x=ignore"]` -> {"old": "new", "x": "ignore"}."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SegstudioError(f"bad class mapping {item!r}: expected SRC=DST")
        src, dst = item.split("=", 1)
        out[src.strip()] = dst.strip()
    return out


def images_by_name(images_dir: Path) -> dict[str, Path]:
    """Images of a folder by file name and by stem (for imports that name an image)."""
    out: dict[str, Path] = {}
    for p in list_images(images_dir):
        out[p.name] = p
        out.setdefault(p.stem, p)
    return out
