"""Pascal VOC segmentation: export a masks folder as a VOC tree, import one back.

Export layout:

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

labelmap.txt declares void too, as the line `ignored:224,224,192::` that
datumaro's own VOC label map has (VocLabel.ignored = 255): datumaro, which
CVAT's "Segmentation mask 1.1" importer runs on, refuses a mask colour that
no line declares. The output folder never holds the inputs: an --out that is,
or contains, the images or masks folder is refused, and --overwrite replaces
only a folder that holds nothing but a previous export's entries.

Import reads `SegmentationClass/*.png`: index PNGs (mode P / L, 255 = void)
directly, colour PNGs through `labelmap.txt` (CVAT's export; see
cvat.py). When the folder names its classes (labelmap.txt or
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

from ..errors import SegstudioError
from ..imageio import encode_label_png, load_image, read_label_png
from ..jobs import CancelFn, ProgressFn, check_cancel, report
from ..labels import LabelSet
from ..output_guard import refuse_foreign_entries, refuse_replacing_tree
from ..staging import staged_dir
from .classmap import ImportSummary
from .pairing import MaskPair, pair_images_masks, read_mask_for, unpaired_lines
from .segfolder import VOID, VOID_COLOR, import_segmentation_folder


def voc_labelset(labelset: LabelSet) -> LabelSet:
    """The label set as written in a VOC export: same classes, void 255 in VOC's void colour."""
    return LabelSet(names=labelset.names, colors=labelset.colors, ignore_index=VOID,
                    ignore_color=VOID_COLOR, name=labelset.name)


EXPORT_ENTRIES = ("JPEGImages", "SegmentationClass", "SegmentationClassVisualization", "ImageSets",
                  "class_names.txt", "labelmap.txt", "labelset.json")


def voc_labelmap(labelset: LabelSet) -> str:
    """labelmap.txt text: a `name:r,g,b::` line per class, then void as datumaro's `ignored` line."""
    taken = {n.lower() for n in labelset.names}
    void_name = next(n for n in ("ignored", "void", "segstudio-void") if n not in taken)
    r, g, b = VOID_COLOR
    return labelset.to_cvat_labelmap() + f"{void_name}:{r},{g},{b}::\n"


def _guard_output(out_dir: Path, images_dir, masks_dir, pairing, overwrite: bool) -> None:
    protected = [images_dir, masks_dir, *(f for p in pairing.pairs for f in (p.image, p.mask))]
    refuse_replacing_tree(out_dir, protected, what="--out")
    if overwrite:
        refuse_foreign_entries(out_dir, EXPORT_ENTRIES, what="--out")


def _write_lists(tmp: Path, labelset: LabelSet, out_ls: LabelSet, stems: list[str], val_fraction: float,
                 seed: int) -> tuple[int, int]:
    train, val = split_stems(stems, val_fraction, seed)
    sets = tmp / "ImageSets" / "Segmentation"
    for name, items in (("train", train), ("val", val), ("trainval", sorted(stems))):
        (sets / f"{name}.txt").write_text("".join(s + "\n" for s in items), encoding="utf-8")
    (tmp / "class_names.txt").write_text(labelset.to_class_names_txt(), encoding="utf-8")
    (tmp / "labelmap.txt").write_text(voc_labelmap(labelset), encoding="utf-8")
    out_ls.save(tmp / "labelset.json")
    return len(train), len(val)


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
    _guard_output(out_dir, images_dir, masks_dir, pairing, overwrite)
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
        summary.train, summary.val = _write_lists(tmp, labelset, out_ls, [p.stem for p in pairing.pairs],
                                                  val_fraction, seed)
        check_cancel(cancelled)
        summary.images = n
    return summary


def import_voc(src_dir: str | Path, images_dir: str | Path, labelset: LabelSet, out_dir: str | Path, **kw) -> ImportSummary:
    """Import a Pascal VOC folder (index PNGs, 255 = void)."""
    return import_segmentation_folder(src_dir, images_dir, labelset, out_dir, kind="VOC", **kw)


def read_voc_mask(path: str | Path, labelset: LabelSet) -> np.ndarray:
    """A VOC SegmentationClass PNG as a label map with the label set's ignore index."""
    a = read_label_png(path)
    out = a.copy()
    out[a == VOID] = labelset.ignore_index
    return out


__all__ = ["export_voc", "import_voc", "split_stems", "voc_labelset", "VocExportSummary", "read_voc_mask",
           "overlay", "VOID", "VOID_COLOR"]
