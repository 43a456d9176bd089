"""Pascal VOC segmentation: export a masks folder as a VOC tree, import one back.

Export layout (DESIGN.md §3):

    JPEGImages/<stem>.jpg               original JPEGs copied byte for byte; other
                                        formats (and JPEGs whose EXIF orientation
                                        is not upright) re-encoded, quality 95
    SegmentationClass/<stem>.png        mode P: 0..K-1 classes, 255 void
    SegmentationClassVisualization/     optional colour overlays (JPEG)
    ImageSets/Segmentation/{train,val,trainval}.txt
    class_names.txt, labelmap.txt       (CVAT "Segmentation mask 1.1"), labelset.json

Unlabelled pixels are written as 255, the VOC void value, whatever the label
set's own ignore index is; the palette holds the class colours and VOC's void
colour (224, 224, 192) at 255. The whole tree is written into a temporary
sibling folder and renamed into place at the end, so a cancelled or failed
export leaves nothing behind.

Import reads `SegmentationClass/*.png`: index PNGs (mode P / L, 255 = void)
directly, colour PNGs through `labelmap.txt` (CVAT's export; see
cvat_format.py). When the folder names its classes (labelmap.txt or
class_names.txt) they are matched to the label set by name; otherwise the
indices are taken as the label set's own.
"""

from __future__ import annotations

import io
import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .batchio import (Cancelled, CancelFn, ClassMapper, ImportSummary, MaskPair, ProgressFn, UnknownClassesError,
                      check_cancel, commit_files, images_by_name, pair_images_masks, read_mask_for, report,
                      staged_dir, unpaired_lines)
from .errors import ImageLoadError, SegstudioError
from .imageio import image_size, label_pngs, load_image, read_label_png
from .labels import LabelSet, read_class_names, read_cvat_labelmap
from .palette import voc_color

VOID = 255
VOID_COLOR = voc_color(255)  # (224, 224, 192)


def voc_labelset(labelset: LabelSet) -> LabelSet:
    """The label set as written in a VOC export: same classes, void 255 in VOC's void colour."""
    return LabelSet(names=labelset.names, colors=labelset.colors, ignore_index=VOID,
                    ignore_color=VOID_COLOR, name=labelset.name)


def to_voc_values(labels: np.ndarray, labelset: LabelSet) -> np.ndarray:
    if labelset.ignore_index == VOID:
        return labels
    out = labels.copy()
    out[labels == labelset.ignore_index] = VOID
    return out


@dataclass
class VocExportSummary:
    out_dir: Path
    images: int = 0
    copied_jpegs: int = 0
    converted: list[str] = field(default_factory=list)  # "<name>: <why>"
    unannotated: list[str] = field(default_factory=list)
    orphan_masks: list[str] = field(default_factory=list)
    train: int = 0
    val: int = 0

    def lines(self) -> list[str]:
        out = [f"{self.images} image(s) exported to {self.out_dir} "
               f"(train {self.train}, val {self.val})",
               f"{self.copied_jpegs} JPEG(s) copied byte for byte, {len(self.converted)} image(s) re-encoded as JPEG"]
        reasons: dict[str, list[str]] = {}
        for c in self.converted:
            name, why = c.split(": ", 1)
            reasons.setdefault(why, []).append(name)
        for why, names in sorted(reasons.items()):
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            out.append(f"  {len(names)} re-encoded ({why}): {shown}")
        return out + unpaired_lines(self.unannotated, self.orphan_masks)


def split_stems(stems: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic train / val split: shuffle with `seed`, the first round(n * val_fraction) are val."""
    if not 0.0 <= val_fraction <= 1.0:
        raise SegstudioError(f"validation fraction {val_fraction} must lie between 0 and 1")
    order = sorted(stems)
    random.Random(seed).shuffle(order)
    n_val = int(round(len(order) * val_fraction))
    val = set(order[:n_val])
    return sorted(s for s in stems if s not in val), sorted(val)


def _exif_upright(path: Path) -> bool:
    with Image.open(path) as img:
        try:
            return img.getexif().get(0x0112, 1) in (0, 1)
        except Exception:
            return True


def overlay(image: np.ndarray, labels: np.ndarray, labelset: LabelSet, alpha: float = 0.5) -> np.ndarray:
    """The image with class colours blended in; unlabelled pixels left as they are."""
    table = np.array(labelset.color_table(), np.float32)
    colors = table[labels]
    valid = (labels < labelset.num_classes)[..., None]
    blended = image.astype(np.float32) * (1 - alpha) + colors * alpha
    return np.where(valid, blended, image).round().astype(np.uint8)


def _export_one(pair: MaskPair, labelset: LabelSet, out_ls: LabelSet, out: Path, visualize: bool) -> tuple[str, str | None]:
    from .imageio import encode_label_png

    labels = read_mask_for(pair, labelset)
    (out / "SegmentationClass" / f"{pair.stem}.png").write_bytes(encode_label_png(to_voc_values(labels, labelset), out_ls))
    jpg = out / "JPEGImages" / f"{pair.stem}.jpg"
    is_jpeg = pair.image.suffix.lower() in (".jpg", ".jpeg")
    why = None
    image = None
    if is_jpeg and _exif_upright(pair.image):
        shutil.copyfile(pair.image, jpg)
    else:
        why = "EXIF orientation applied" if is_jpeg else f"from {pair.image.suffix.lower().lstrip('.')}"
        image = load_image(pair.image)
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=95)
        jpg.write_bytes(buf.getvalue())
    if visualize:
        if image is None:
            image = load_image(pair.image)
        buf = io.BytesIO()
        Image.fromarray(overlay(image, labels, labelset)).save(buf, format="JPEG", quality=90)
        (out / "SegmentationClassVisualization" / f"{pair.stem}.jpg").write_bytes(buf.getvalue())
    return pair.stem, why


def export_voc(images_dir: str | Path, masks_dir: str | Path, labelset: LabelSet, out_dir: str | Path, *,
               val_fraction: float = 0.2, seed: int = 0, visualize: bool = False, overwrite: bool = False,
               workers: int | None = None, progress: ProgressFn | None = None,
               cancelled: CancelFn | None = None) -> VocExportSummary:
    """Write a Pascal VOC segmentation tree; raises Cancelled (leaving nothing) if cancelled."""
    out_dir = Path(out_dir)
    pairing = pair_images_masks(images_dir, masks_dir)
    if not pairing.pairs:
        raise SegstudioError(f"{masks_dir}: no masks matching the images in {images_dir}")
    summary = VocExportSummary(out_dir=out_dir, unannotated=pairing.unannotated, orphan_masks=pairing.orphan_masks)
    out_ls = voc_labelset(labelset)
    n = len(pairing.pairs)
    with staged_dir(out_dir, overwrite=overwrite) as tmp:
        for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation") + (
                ("SegmentationClassVisualization",) if visualize else ()):
            (tmp / sub).mkdir(parents=True)
        report(progress, 0, n)
        with ThreadPoolExecutor(max_workers=workers or 4) as pool:
            futures = [pool.submit(_export_one, p, labelset, out_ls, tmp, visualize) for p in pairing.pairs]
            try:
                for i, fut in enumerate(futures):
                    check_cancel(cancelled)
                    stem, why = fut.result()
                    if why:
                        summary.converted.append(f"{pairing.pairs[i].image.name}: {why}")
                    else:
                        summary.copied_jpegs += 1
                    report(progress, i + 1, n)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        stems = [p.stem for p in pairing.pairs]
        train, val = split_stems(stems, val_fraction, seed)
        sets = tmp / "ImageSets" / "Segmentation"
        for name, items in (("train", train), ("val", val), ("trainval", sorted(stems))):
            (sets / f"{name}.txt").write_text("".join(s + "\n" for s in items), encoding="utf-8")
        (tmp / "class_names.txt").write_text(labelset.to_class_names_txt(), encoding="utf-8")
        (tmp / "labelmap.txt").write_text(labelset.to_cvat_labelmap(), encoding="utf-8")
        out_ls.save(tmp / "labelset.json")
        check_cancel(cancelled)
        summary.images, summary.train, summary.val = n, len(train), len(val)
    return summary


# --- import ------------------------------------------------------------------------
@dataclass
class _SourceClasses:
    names: list[str] | None  # index -> name, when the folder names its classes
    colors: list[tuple[int, int, int]] | None  # index -> colour (labelmap.txt)


def _source_classes(src: Path) -> _SourceClasses:
    lm = src / "labelmap.txt"
    if lm.is_file():
        ls = read_cvat_labelmap(lm)
        return _SourceClasses(list(ls.names), list(ls.colors))
    cn = src / "class_names.txt"
    if cn.is_file():
        return _SourceClasses(list(read_class_names(cn).names), None)
    return _SourceClasses(None, None)


def _read_source_png(path: Path) -> tuple[str, np.ndarray]:
    """("index", HxW) for mode P / L files, ("rgb", HxWx3) for colour files."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("P", "L"):
                return "index", np.asarray(img)
            return "rgb", np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageLoadError(f"{path}: cannot read ({e})") from None


def _palette_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def map_colors(rgb: np.ndarray, colors: list[tuple[int, int, int]], targets: list[int | None],
               ignore_index: int) -> tuple[np.ndarray, dict[tuple[int, int, int], int]]:
    """Label map from a colour mask; returns (labels, {unlisted colour: pixel count})."""
    code = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    uniq, inv = np.unique(code.ravel(), return_inverse=True)
    lut = np.full(len(uniq), ignore_index, np.uint8)
    by_code = {(r << 16) | (g << 8) | b: t for (r, g, b), t in zip(colors, targets)}
    unlisted: dict[tuple[int, int, int], int] = {}
    counts = np.bincount(inv, minlength=len(uniq))
    for k, c in enumerate(uniq.tolist()):
        if c in by_code:
            t = by_code[c]
            lut[k] = ignore_index if t is None else t
        else:
            unlisted[((c >> 16) & 255, (c >> 8) & 255, c & 255)] = int(counts[k])
    return lut[inv].reshape(code.shape), unlisted


def import_segmentation_folder(src_dir: str | Path, images_dir: str | Path, labelset: LabelSet,
                               out_dir: str | Path, *, mapping: dict[str, str] | None = None,
                               skip_unknown: bool = False, overwrite: bool = False, colors: bool | None = None,
                               progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
                               kind: str = "VOC") -> ImportSummary:
    """Import `src_dir/SegmentationClass/*.png` as label PNGs in `out_dir`.

    `colors=None` decides per file: colour PNGs are mapped through the folder's
    labelmap.txt, index PNGs are read as indices. Unknown class names (or
    colours absent from labelmap.txt) raise UnknownClassesError before anything
    is written, unless `skip_unknown` (their pixels become unlabelled and are
    counted in the summary).
    """
    src = Path(src_dir)
    seg = src / "SegmentationClass"
    if not seg.is_dir():
        raise SegstudioError(f"{src}: no SegmentationClass folder; is this a {kind} export?")
    images_dir, out_dir = Path(images_dir), Path(out_dir)
    images = images_by_name(images_dir)
    source = _source_classes(src)
    mapper = ClassMapper(labelset, mapping)
    targets: list[int | None] | None = None
    if source.names is not None:
        targets = [mapper.index(n) for n in source.names]
    summary = ImportSummary(out_dir=out_dir)
    files = list(label_pngs(seg).values())
    if not files:
        raise SegstudioError(f"{seg}: no PNG files")
    k, ig = labelset.num_classes, labelset.ignore_index
    unknown_colors: dict[tuple[int, int, int], int] = {}
    unknown_values: dict[int, int] = {}
    results: list[tuple[str, np.ndarray]] = []
    n = len(files)
    report(progress, 0, n)
    for i, f in enumerate(files):
        check_cancel(cancelled)
        image = images.get(f.stem)
        if image is None:
            summary.skipped[f.name] = f"no image named {f.stem}.* in {images_dir}"
            continue
        mode, a = _read_source_png(f)
        if colors or (colors is None and mode == "rgb"):
            if source.colors is None:
                raise SegstudioError(f"{f}: a colour mask needs {src / 'labelmap.txt'} to map colours to classes")
            if mode == "index":
                a = _palette_rgb(f)
            labels, unlisted = map_colors(a, source.colors, targets, ig)
            for c, cnt in unlisted.items():
                unknown_colors[c] = unknown_colors.get(c, 0) + cnt
        else:
            if targets is not None:
                lut = np.full(256, ig, np.uint8)
                for j, t in enumerate(targets):
                    lut[j] = ig if t is None else t
                present = np.flatnonzero(np.bincount(a.ravel(), minlength=256))
                for v in present:
                    if v >= len(targets) and v != VOID:
                        unknown_values[int(v)] = unknown_values.get(int(v), 0) + 1
                labels = lut[a]
            else:
                labels = a.copy()
                labels[a == VOID] = ig
                present = np.flatnonzero(np.bincount(a.ravel(), minlength=256))
                for v in present:
                    if v >= k and v != VOID and v != ig:
                        unknown_values[int(v)] = unknown_values.get(int(v), 0) + 1
                labels[(labels >= k) & (labels != ig)] = ig
        w, h = image_size(image)
        if labels.shape != (h, w):
            raise SegstudioError(f"{f}: mask is {labels.shape[1]}x{labels.shape[0]} but image {image} is {w}x{h}")
        results.append((f.stem, labels))
        report(progress, i + 1, n)
    unknown = dict(mapper.unknown)
    for c, cnt in unknown_colors.items():
        unknown[f"colour {c[0]},{c[1]},{c[2]}"] = cnt
    for v, cnt in unknown_values.items():
        unknown[f"value {v}"] = cnt
    if unknown and not skip_unknown:
        raise UnknownClassesError(unknown, src, labelset, unit="files" if not unknown_colors else "pixels/files")
    mapper.fill_summary(summary)
    summary.unknown.update(unknown)
    _write_masks(results, labelset, out_dir, overwrite, summary, cancelled)
    return summary


def _write_masks(results: list[tuple[str, np.ndarray]], labelset: LabelSet, out_dir: Path, overwrite: bool,
                 summary: ImportSummary, cancelled: CancelFn | None) -> None:
    """Write masks into a staging folder, then move them into `out_dir` one rename each."""
    import tempfile

    from .imageio import encode_label_png

    if not overwrite and out_dir.is_dir():
        clash = [s for s, _ in results if (out_dir / f"{s}.png").exists()]
        if clash:
            raise SegstudioError(f"{out_dir}: {len(clash)} mask(s) already exist ({', '.join(clash[:5])}"
                                 f"{' ...' if len(clash) > 5 else ''}); allow overwriting to replace them")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-partial-", dir=out_dir))
    try:
        for stem, labels in results:
            check_cancel(cancelled)
            (staging / f"{stem}.png").write_bytes(encode_label_png(labels, labelset))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    commit_files(staging, out_dir)
    summary.written = [s for s, _ in results]


def import_voc(src_dir: str | Path, images_dir: str | Path, labelset: LabelSet, out_dir: str | Path, **kw) -> ImportSummary:
    """Import a Pascal VOC folder (index PNGs, 255 = void)."""
    return import_segmentation_folder(src_dir, images_dir, labelset, out_dir, kind="VOC", **kw)


def read_voc_mask(path: str | Path, labelset: LabelSet) -> np.ndarray:
    """A VOC SegmentationClass PNG as a label map with the label set's ignore index."""
    a = read_label_png(path)
    out = a.copy()
    out[a == VOID] = labelset.ignore_index
    return out


__all__ = ["export_voc", "import_voc", "import_segmentation_folder", "split_stems", "voc_labelset",
           "VocExportSummary", "Cancelled", "read_voc_mask", "overlay", "map_colors"]
