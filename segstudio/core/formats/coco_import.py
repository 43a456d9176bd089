"""Importing a COCO JSON file as label PNGs (`import_coco`).

Polygons, uncompressed and compressed RLE; crowd annotations (iscrowd 1) are
painted like the others. Overlap rule: annotations are painted in the order
they appear in the file, so where two overlap the LATER one wins (as
labelme's own converter does for shapes). Pixels no annotation covers become
unlabelled (the label set's ignore index) unless `fill` names a class.
Categories are matched to the label set by name; unknown names stop the
import before anything is written unless they are mapped or skipped.

The file is hostile until checked: it is read with size and nesting limits
(safe_json), `file_name` values that leave the images folder are refused,
and every segmentation is checked before pycocotools decodes it
(coco_segm): non-finite or far-away coordinates, RLE whose size or counts
disagree with the image stop the import with the annotation's id. Polygons
of fewer than 3 points are reported with their annotation ids.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import SegstudioError
from ..imageio import image_size, list_images
from ..jobs import CancelFn, ProgressFn, check_cancel, report
from ..labels import LabelSet
from ..output_guard import refuse_inputs
from ..pathsafety import safe_join
from ..safe_json import load_json_file
from .classmap import ClassMapper, ImportSummary, UnknownClassesError
from .coco_segm import BadSegmentation, decode_segmentation_checked
from .masks import write_masks


def _load_doc(json_file: Path) -> dict:
    doc = load_json_file(json_file)
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list) for k in ("images", "annotations", "categories")):
        raise SegstudioError(f"{json_file}: not a COCO file (needs 'images', 'annotations' and 'categories' lists)")
    for a in doc["annotations"]:
        if not isinstance(a, dict):
            raise SegstudioError(f"{json_file}: an annotation is not an object: {str(a)[:80]}")
    return doc


def _category_indices(doc: dict, json_file: Path, mapper: ClassMapper, summary: ImportSummary,
                      skip_unknown: bool) -> dict[object, int | None]:
    anns_by_cat: dict[object, int] = {}
    for a in doc["annotations"]:
        anns_by_cat[a.get("category_id")] = anns_by_cat.get(a.get("category_id"), 0) + 1
    cat_index: dict[object, int | None] = {}
    for c in doc["categories"]:
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            raise SegstudioError(f"{json_file}: a category lacks 'id' or 'name': {str(c)[:80]}")
        cat_index[c["id"]] = mapper.index(str(c["name"]), anns_by_cat.get(c["id"], 0))
    unused = sorted(k for k, v in mapper.unknown.items() if v == 0)
    for k in unused:  # a category no annotation uses loses nothing
        del mapper.unknown[k]
    if mapper.unknown and not skip_unknown:
        raise UnknownClassesError(mapper.unknown, json_file, mapper.labelset)
    if unused:
        summary.notes.append(f"unused categories not in the label set: {', '.join(unused)}")
    return cat_index


def _image_entries(doc: dict, json_file: Path, images_dir: Path) -> list[tuple[dict, Path | None, str]]:
    """(image entry, image path or None, stem) for every image; a bad path refuses the whole file."""
    entries = []
    stems: dict[str, str] = {}
    for im in doc["images"]:
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise SegstudioError(f"{json_file}: an image entry lacks 'id' or 'file_name': {str(im)[:80]}")
        fname = im["file_name"]
        path = safe_join(images_dir, fname, source=json_file, what="file_name")
        if not path.is_file():
            alt = images_dir / PurePosixPath(str(fname).replace("\\", "/")).name
            path = alt if alt.is_file() else None
        stem = PurePosixPath(str(fname).replace("\\", "/")).stem
        if stem in stems:
            raise SegstudioError(f"{json_file}: images {stems[stem]!r} and {fname!r} would both write {stem}.png")
        stems[stem] = fname
        entries.append((im, path, stem))
    return entries


def _group_annotations(doc: dict, entries, summary: ImportSummary) -> dict[object, list[dict]]:
    by_image: dict[object, list[dict]] = {}
    known_ids = {im["id"] for im, _, _ in entries}
    orphans = 0
    for a in doc["annotations"]:
        if a.get("image_id") not in known_ids:
            orphans += 1
            continue
        by_image.setdefault(a["image_id"], []).append(a)
    if orphans:
        summary.notes.append(f"{orphans} annotation(s) refer to image ids not in 'images' (skipped)")
    return by_image


def _paint(anns: list[dict], im: dict, hw: tuple[int, int], fill_index: int, cat_index: dict,
           json_file: Path, summary: ImportSummary, degenerate: list) -> np.ndarray:
    h, w = hw
    labels = np.full((h, w), fill_index, np.uint8)
    for a in anns:
        idx = cat_index.get(a.get("category_id"))
        if idx is None:
            if a.get("category_id") not in cat_index:
                key = f"category id {a.get('category_id')}"
                summary.unknown[key] = summary.unknown.get(key, 0) + 1
            continue
        try:
            m, n_degenerate = decode_segmentation_checked(a.get("segmentation"), h, w)
        except (BadSegmentation, ValueError, TypeError) as e:
            raise SegstudioError(f"{json_file}: annotation {a.get('id')} of {im['file_name']}: "
                                 f"bad segmentation ({e})") from None
        if n_degenerate:
            degenerate.append(a.get("id"))
        labels[m] = idx
    return labels


def _degenerate_note(ids: list) -> str:
    shown = ", ".join(str(i) for i in ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
    return f"{len(ids)} annotation(s) with polygons of fewer than 3 points (not drawn): ids {shown}"


def import_coco(json_file: str | Path, images_dir: str | Path, labelset: LabelSet, out_dir: str | Path, *,
                mapping: dict[str, str] | None = None, skip_unknown: bool = False, overwrite: bool = False,
                fill: str | None = None, progress: ProgressFn | None = None,
                cancelled: CancelFn | None = None) -> ImportSummary:
    """Paint a COCO JSON's annotations into label PNGs `out_dir/<image stem>.png`."""
    json_file, images_dir, out_dir = Path(json_file), Path(images_dir), Path(out_dir)
    doc = _load_doc(json_file)
    if not images_dir.is_dir():
        raise SegstudioError(f"{images_dir}: images folder not found")
    mapper = ClassMapper(labelset, mapping)
    fill_index = labelset.ignore_index if fill is None else mapper.index(fill)
    if fill_index is None:
        raise SegstudioError(f"fill class {fill!r} is not in the label set")
    summary = ImportSummary(out_dir=out_dir)
    cat_index = _category_indices(doc, json_file, mapper, summary, skip_unknown)
    entries = _image_entries(doc, json_file, images_dir)
    refuse_inputs([out_dir / f"{stem}.png" for _, _, stem in entries],
                  [json_file, *list_images(images_dir), *(p for _, p, _ in entries if p is not None)],
                  what="mask")
    by_image = _group_annotations(doc, entries, summary)
    results, degenerate = [], []
    report(progress, 0, len(entries))
    for i, (im, path, stem) in enumerate(entries):
        check_cancel(cancelled)
        if path is None:
            summary.skipped[im["file_name"]] = f"image not found in {images_dir}"
            continue
        w, h = image_size(path)
        if (im.get("width"), im.get("height")) != (w, h):
            summary.skipped[im["file_name"]] = f"COCO says {im.get('width')}x{im.get('height')} but {path} is {w}x{h}"
            continue
        labels = _paint(by_image.get(im["id"], []), im, (h, w), fill_index, cat_index, json_file, summary, degenerate)
        results.append((stem, labels))
        report(progress, i + 1, len(entries))
    if degenerate:
        summary.notes.append(_degenerate_note(degenerate))
    mapper.fill_summary(summary)
    summary.written = write_masks(results, labelset, out_dir, overwrite=overwrite, cancelled=cancelled)
    return summary
