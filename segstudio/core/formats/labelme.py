"""Importing labelme JSON annotations as label PNGs.

Shapes: polygon, rectangle, circle (centre + a point on the rim) and mask
(a base64 PNG of the region whose top-left corner is the first point), drawn
with Pillow the way labelme's own `shape_to_mask` draws them (outline
included). line, linestrip and point shapes carry no area; they are not
drawn, and the summary counts them.

Overlap rule: shapes are painted in the order they appear in the file, so
where two overlap the LATER shape wins (labelme's converter does the same).
Pixels no shape covers become unlabelled (the label set's ignore index).

Coordinates are in the EXIF-oriented frame (labelme rotates images by their
EXIF orientation when it opens them), so the mask has the oriented image's
size, `imageio.image_size`; labelme's own converters forget this and produce
masks that do not fit rotated photos.

`imagePath` is relative to the JSON file; a value that leads outside the JSON
folder and the images folder is refused (UnsafePathError). Labels that are
not in the label set stop the import before anything is written unless they
are mapped (`mapping`) or skipped (`skip_unknown`, counted in the summary).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from ..errors import SegstudioError
from ..imageio import image_size
from ..jobs import CancelFn, ProgressFn, check_cancel, report
from ..labels import LabelSet
from ..pathsafety import safe_join
from .classmap import ClassMapper, ImportSummary, UnknownClassesError
from .masks import write_masks
from .pairing import images_by_name

AREA_SHAPES = ("polygon", "rectangle", "circle", "mask")
NO_AREA_SHAPES = ("line", "linestrip", "point", "points")


@dataclass
class _Doc:
    json_path: Path
    stem: str
    image: Path | None
    image_data: bytes | None
    size_hint: tuple[int | None, int | None]
    shapes: list[dict]


def _read_doc(path: Path, images: dict[str, Path], images_dir: Path, root: Path) -> _Doc:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as e:
        raise SegstudioError(f"{path}: cannot read ({e})") from None
    except json.JSONDecodeError as e:
        raise SegstudioError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        raise SegstudioError(f"{path}: not a labelme file (no 'shapes' list)")
    image_path = doc.get("imagePath") or ""
    image = None
    if image_path:
        resolved = safe_join(path.parent, image_path, allowed=[root, images_dir], source=path, what="imagePath")
        if resolved.is_file():
            image = resolved
        stem = PurePosixPath(image_path.replace("\\", "/")).stem
        name = PurePosixPath(image_path.replace("\\", "/")).name
        # prefer the copy in the images folder: masks belong to those images
        image = images.get(name) or image
    else:
        stem = path.stem
        image = images.get(stem)
    data = None
    if doc.get("imageData"):
        try:
            data = base64.b64decode(doc["imageData"], validate=False)
        except (binascii.Error, ValueError):
            raise SegstudioError(f"{path}: imageData is not valid base64") from None
    return _Doc(path, stem, image, data, (doc.get("imageWidth"), doc.get("imageHeight")), doc["shapes"])


def _oriented_size_of_bytes(data: bytes, source: Path) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img) or img
            return img.size
    except Exception as e:
        raise SegstudioError(f"{source}: imageData is not a readable image ({e})") from None


def _decode_mask(b64: str, source: Path) -> Image.Image:
    try:
        with Image.open(io.BytesIO(base64.b64decode(b64))) as img:
            a = np.asarray(img.convert("L")) > 0
    except Exception as e:
        raise SegstudioError(f"{source}: a mask shape's data is not a base64 PNG ({e})") from None
    return Image.fromarray(a.astype(np.uint8) * 255, "L")


def _points(shape: dict, source: Path) -> list[tuple[float, float]]:
    pts = shape.get("points") or []
    try:
        out = [(float(p[0]), float(p[1])) for p in pts]
    except (TypeError, ValueError, IndexError):
        raise SegstudioError(f"{source}: shape {shape.get('label')!r} has malformed points") from None
    if not all(math.isfinite(v) for p in out for v in p):
        raise SegstudioError(f"{source}: shape {shape.get('label')!r} has non-finite points")
    return out


def rasterise_shapes(shapes: list[tuple[dict, int]], size: tuple[int, int], fill: int, source: Path,
                     skipped: dict[str, int] | None = None) -> np.ndarray:
    """Paint (shape, class index) pairs in order onto a `size` (w, h) label map."""
    canvas = Image.new("L", size, fill)
    draw = ImageDraw.Draw(canvas)
    for shape, idx in shapes:
        kind = shape.get("shape_type") or "polygon"
        pts = _points(shape, source)
        if kind == "polygon":
            if len(pts) < 3:
                if skipped is not None:
                    skipped["polygon with fewer than 3 points"] = skipped.get("polygon with fewer than 3 points", 0) + 1
                continue
            draw.polygon(pts, fill=idx, outline=idx)
        elif kind == "rectangle":
            if len(pts) != 2:
                raise SegstudioError(f"{source}: rectangle {shape.get('label')!r} needs 2 points, has {len(pts)}")
            (x1, y1), (x2, y2) = pts
            draw.rectangle([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], fill=idx, outline=idx)
        elif kind == "circle":
            if len(pts) != 2:
                raise SegstudioError(f"{source}: circle {shape.get('label')!r} needs 2 points, has {len(pts)}")
            (cx, cy), (px, py) = pts
            d = math.hypot(cx - px, cy - py)
            draw.ellipse([cx - d, cy - d, cx + d, cy + d], fill=idx, outline=idx)
        elif kind == "mask":
            if not pts or not shape.get("mask"):
                raise SegstudioError(f"{source}: mask shape {shape.get('label')!r} lacks its points or mask data")
            m = _decode_mask(shape["mask"], source)
            x1, y1 = int(pts[0][0]), int(pts[0][1])
            canvas.paste(idx, (x1, y1, x1 + m.width, y1 + m.height), mask=m)
        else:
            if skipped is not None:
                skipped[f"{kind} shapes (no area)"] = skipped.get(f"{kind} shapes (no area)", 0) + 1
    return np.asarray(canvas).copy()


def import_labelme(src: str | Path, images_dir: str | Path, labelset: LabelSet, out_dir: str | Path, *,
                   mapping: dict[str, str] | None = None, skip_unknown: bool = False, overwrite: bool = False,
                   progress: ProgressFn | None = None, cancelled: CancelFn | None = None) -> ImportSummary:
    """Import one labelme JSON file or every *.json in a folder into `out_dir/<image stem>.png`."""
    src, images_dir, out_dir = Path(src), Path(images_dir), Path(out_dir)
    if src.is_dir():
        files = sorted(p for p in src.glob("*.json") if not p.name.startswith("."))
        root = src
        if not files:
            raise SegstudioError(f"{src}: no labelme .json files")
    elif src.is_file():
        files, root = [src], src.parent
    else:
        raise SegstudioError(f"{src}: no such file or folder")
    if not images_dir.is_dir():
        raise SegstudioError(f"{images_dir}: images folder not found")
    images = images_by_name(images_dir)
    mapper = ClassMapper(labelset, mapping)
    docs = [_read_doc(f, images, images_dir, root) for f in files]
    seen: dict[str, Path] = {}
    for d in docs:
        if d.stem in seen:
            raise SegstudioError(f"{d.json_path} and {seen[d.stem]} both annotate an image named {d.stem!r}")
        seen[d.stem] = d.json_path
        d.shapes = [(s, mapper.index(str(s.get("label", "")))) for s in d.shapes if isinstance(s, dict)]
    if mapper.unknown and not skip_unknown:
        raise UnknownClassesError(mapper.unknown, src, labelset, unit="shapes")
    summary = ImportSummary(out_dir=out_dir)
    not_drawn: dict[str, int] = {}
    results = []
    n = len(docs)
    report(progress, 0, n)
    for i, d in enumerate(docs):
        check_cancel(cancelled)
        if d.image is not None:
            size = image_size(d.image)
        elif d.image_data is not None:
            size = _oriented_size_of_bytes(d.image_data, d.json_path)
            summary.notes.append(f"{d.json_path.name}: image not found; used the size of its embedded imageData")
        else:
            summary.skipped[d.json_path.name] = f"image {d.stem!r} not found in {images_dir} and no imageData"
            continue
        hw, hh = d.size_hint
        if hw is not None and hh is not None and (hw, hh) != size:
            summary.skipped[d.json_path.name] = (f"labelme says {hw}x{hh} but the image "
                                                 f"{d.image or 'imageData'} is {size[0]}x{size[1]} (EXIF-oriented)")
            continue
        shapes = [(s, idx) for s, idx in d.shapes if idx is not None]
        labels = rasterise_shapes(shapes, size, labelset.ignore_index, d.json_path, not_drawn)
        results.append((d.stem, labels))
        report(progress, i + 1, n)
    mapper.fill_summary(summary)
    for what, cnt in sorted(not_drawn.items()):
        summary.notes.append(f"{cnt} {what} not drawn")
    summary.written = write_masks(results, labelset, out_dir, overwrite=overwrite, cancelled=cancelled)
    return summary
