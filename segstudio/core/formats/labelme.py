"""Importing labelme JSON annotations as label PNGs, following labelme's own conventions.

Shapes: polygon, rectangle, oriented_rectangle (its 4 corners), circle
(centre + a point on the rim), mask (a base64 PNG of the region whose
top-left corner is the first point), line, linestrip and point, drawn with
Pillow the way labelme's own `shape_to_mask` draws them (outline included):
lines and line strips 10 px wide (LINE_WIDTH), a point as a disc of radius
5 px (POINT_RADIUS). Other shape types are not drawn and the summary counts
them. Polygons with fewer than 3 points and line strips with fewer than 2 are
not drawn either; the summary names their files.

Overlap rule: shapes are painted in the order they appear in the file, so
where two overlap the LATER shape wins (labelme's converter does the same).

Labelme's reserved labels, as its `labelme2voc` converter reads them:
`_background_` is the background class and pixels no shape covers are
background too; `__ignore__` is void (the label set's ignore index). Which
index "background" is follows `background`: "auto" (default) the label set's
class named background (VOC's class 0) when it has one, else void; "void";
or the name of a class.

Coordinates are in the EXIF-oriented frame (labelme rotates images by their
EXIF orientation when it opens them), so the mask has the oriented image's
size, `imageio.image_size`; labelme's own converters forget this and produce
masks that do not fit rotated photos.

`imagePath` is relative to the JSON file; a value that leads outside the JSON
folder and the images folder is refused. When the image is absent, or
`imagePath` names the JSON itself (labelme's example apc2016_obj3.json), the
embedded `imageData` gives the size. A file that cannot be read or drawn is
reported and skipped; the others are still imported. Labels that are not in
the label set stop the import before anything is written unless they are
mapped (`mapping`) or skipped (`skip_unknown`, counted in the summary).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from ..errors import SegstudioError
from ..imageio import image_size, is_image_file
from ..jobs import CancelFn, ProgressFn, check_cancel, report
from ..labels import LabelSet
from ..output_guard import refuse_inputs
from ..pathsafety import safe_join
from ..safe_json import load_json_file
from .classmap import ClassMapper, ImportSummary, UnknownClassesError
from .masks import write_masks
from .pairing import images_by_name

BACKGROUND_LABEL = "_background_"
IGNORE_LABEL = "__ignore__"
BACKGROUND_CLASS_NAMES = ("background", "_background_", "__background__", "bg")
MAX_COORD = 1e7  # px; anything farther is a corrupt file, not an annotation
LINE_WIDTH = 10  # px, labelme's shape_to_mask default for line and linestrip
POINT_RADIUS = 5  # px, labelme's shape_to_mask default for point


@dataclass
class _Doc:
    json_path: Path
    stem: str
    image: Path | None
    image_data: bytes | None
    size_hint: tuple[int | None, int | None]
    shapes: list


def _read_doc(path: Path, images: dict[str, Path], images_dir: Path, root: Path) -> _Doc:
    doc = load_json_file(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        raise SegstudioError(f"{path}: not a labelme file (no 'shapes' list)")
    image_path = doc.get("imagePath") or ""
    if not isinstance(image_path, str):
        raise SegstudioError(f"{path}: imagePath is not a string")
    image = None
    if image_path:
        resolved = safe_join(path.parent, image_path, allowed=[root, images_dir], source=path, what="imagePath")
        if resolved.is_file() and resolved != path.resolve() and is_image_file(resolved):
            image = resolved
        stem = PurePosixPath(image_path.replace("\\", "/")).stem
        name = PurePosixPath(image_path.replace("\\", "/")).name
        # prefer the copy in the images folder: masks belong to those images
        found = images.get(name)
        image = found if found is not None and found.resolve() != path.resolve() else image
    else:
        stem = path.stem
        image = images.get(stem)
    data = None
    if doc.get("imageData"):
        try:
            data = base64.b64decode(doc["imageData"], validate=False)
        except (binascii.Error, ValueError, TypeError):
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
    except (TypeError, ValueError, IndexError, KeyError):
        raise SegstudioError(f"{source}: shape {shape.get('label')!r} has malformed points") from None
    if not all(math.isfinite(v) for p in out for v in p):
        raise SegstudioError(f"{source}: shape {shape.get('label')!r} has non-finite points")
    if any(abs(v) > MAX_COORD for p in out for v in p):
        raise SegstudioError(f"{source}: shape {shape.get('label')!r} has a point beyond {MAX_COORD:g} px")
    return out


def _need(kind: str, pts: list, n: int, shape: dict, source: Path) -> None:
    if len(pts) != n:
        raise SegstudioError(f"{source}: {kind} {shape.get('label')!r} needs {n} points, has {len(pts)}")


def _count(notes: dict[str, int] | None, what: str) -> None:
    if notes is not None:
        notes[what] = notes.get(what, 0) + 1


def _draw_shape(canvas: Image.Image, draw: ImageDraw.ImageDraw, shape: dict, idx: int, source: Path,
                notes: dict[str, int] | None) -> None:
    kind = shape.get("shape_type") or "polygon"
    pts = _points(shape, source)
    if kind == "polygon":
        if len(pts) < 3:
            _count(notes, f"polygon(s) with fewer than 3 points ({source.name})")
            return
        draw.polygon(pts, fill=idx, outline=idx)
    elif kind == "rectangle":
        _need(kind, pts, 2, shape, source)
        (x1, y1), (x2, y2) = pts
        draw.rectangle([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], fill=idx, outline=idx)
    elif kind == "oriented_rectangle":
        _need(kind, pts, 4, shape, source)
        draw.polygon(pts, fill=idx, outline=idx)
    elif kind == "circle":
        _need(kind, pts, 2, shape, source)
        (cx, cy), (px, py) = pts
        d = math.hypot(cx - px, cy - py)
        draw.ellipse([cx - d, cy - d, cx + d, cy + d], fill=idx, outline=idx)
    elif kind == "mask":
        if not pts or not shape.get("mask"):
            raise SegstudioError(f"{source}: mask shape {shape.get('label')!r} lacks its points or mask data")
        m = _decode_mask(shape["mask"], source)
        x1, y1 = int(pts[0][0]), int(pts[0][1])
        canvas.paste(idx, (x1, y1, x1 + m.width, y1 + m.height), mask=m)
    elif kind in ("line", "linestrip", "point"):
        _draw_thin(draw, kind, pts, idx, shape, source, notes)
    else:
        _count(notes, f"{kind} shape(s) (not a labelme area shape)")


def _draw_thin(draw: ImageDraw.ImageDraw, kind: str, pts: list, idx: int, shape: dict, source: Path,
               notes: dict[str, int] | None) -> None:
    """Lines, line strips and points, given an area as labelme's converter gives them."""
    if kind == "point":
        _need(kind, pts, 1, shape, source)
        (cx, cy), r = pts[0], POINT_RADIUS
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=idx, outline=idx)
        return
    if kind == "line":
        _need(kind, pts, 2, shape, source)
    elif len(pts) < 2:
        _count(notes, f"line strip(s) with fewer than 2 points ({source.name})")
        return
    draw.line(pts, fill=idx, width=LINE_WIDTH)


def rasterise_shapes(shapes: list[tuple[dict, int]], size: tuple[int, int], fill: int, source: Path,
                     skipped: dict[str, int] | None = None) -> np.ndarray:
    """Paint (shape, class index) pairs in order onto a `size` (w, h) label map filled with `fill`."""
    canvas = Image.new("L", size, fill)
    draw = ImageDraw.Draw(canvas)
    for shape, idx in shapes:
        _draw_shape(canvas, draw, shape, idx, source, skipped)
    return np.asarray(canvas).copy()


def background_index(labelset: LabelSet, background: str = "auto") -> int:
    """The index labelme's `_background_` (and uncovered pixels) become: see the module docstring."""
    if background == "void":
        return labelset.ignore_index
    if background == "auto":
        for i, name in enumerate(labelset.names):
            if name.lower() in BACKGROUND_CLASS_NAMES:
                return i
        return labelset.ignore_index
    idx = labelset.get_index(background)
    if idx is None:
        raise SegstudioError(f"background class {background!r} is not in label set "
                             f"{labelset.name or '(unnamed)'} ({', '.join(labelset.names)}); "
                             "give a class name, 'auto' or 'void'")
    return idx


class _LabelmeMapper:
    """ClassMapper plus labelme's reserved labels (`_background_`, `__ignore__`) unless mapped explicitly."""

    def __init__(self, labelset: LabelSet, mapping: dict[str, str] | None, bg: int):
        self.mapper = ClassMapper(labelset, mapping)
        self.labelset, self.bg = labelset, bg

    def index(self, name: str) -> int | None:
        m = self.mapper
        if name not in m.mapping and name in (BACKGROUND_LABEL, IGNORE_LABEL):
            if name == IGNORE_LABEL or self.bg == self.labelset.ignore_index:
                m.to_unlabelled[name] = m.to_unlabelled.get(name, 0) + 1
                return self.labelset.ignore_index
            m.mapped[name] = self.labelset.names[self.bg]
            return self.bg
        return m.index(name)


def _collect(src: Path) -> tuple[list[Path], Path]:
    if src.is_dir():
        files = sorted(p for p in src.glob("*.json") if not p.name.startswith("."))
        if not files:
            raise SegstudioError(f"{src}: no labelme .json files")
        return files, src
    if src.is_file():
        return [src], src.parent
    raise SegstudioError(f"{src}: no such file or folder")


def _read_all(files: list[Path], images: dict[str, Path], images_dir: Path, root: Path,
              summary: ImportSummary, strict: bool) -> list[_Doc]:
    """Every readable labelme file; unless `strict`, unreadable ones and duplicate stems are
    reported in `summary.skipped` and the others still imported."""
    docs: list[_Doc] = []
    seen: dict[str, Path] = {}
    for f in files:
        try:
            d = _read_doc(f, images, images_dir, root)
        except SegstudioError as e:
            if strict:
                raise
            summary.skipped[f.name] = str(e)
            continue
        if d.stem in seen:
            summary.skipped[f.name] = f"{seen[d.stem].name} already annotates an image named {d.stem!r}"
            continue
        seen[d.stem] = f
        docs.append(d)
    return docs


def _doc_size(d: _Doc, images_dir: Path, summary: ImportSummary) -> tuple[int, int]:
    if d.image is not None:
        size = image_size(d.image)
    elif d.image_data is not None:
        size = _oriented_size_of_bytes(d.image_data, d.json_path)
        summary.notes.append(f"{d.json_path.name}: image file not found; used its embedded imageData "
                             f"({size[0]}x{size[1]}); put the image in {images_dir} as {d.stem}.* to use the mask")
    else:
        raise SegstudioError(f"image {d.stem!r} not found in {images_dir} and no imageData")
    hw, hh = d.size_hint
    if hw is not None and hh is not None and (hw, hh) != size:
        raise SegstudioError(f"labelme says {hw}x{hh} but the image {d.image or 'imageData'} is "
                             f"{size[0]}x{size[1]} (EXIF-oriented)")
    return size


def import_labelme(src: str | Path, images_dir: str | Path, labelset: LabelSet, out_dir: str | Path, *,
                   mapping: dict[str, str] | None = None, skip_unknown: bool = False, overwrite: bool = False,
                   background: str = "auto", progress: ProgressFn | None = None,
                   cancelled: CancelFn | None = None) -> ImportSummary:
    """Import one labelme JSON file or every *.json in a folder into `out_dir/<image stem>.png`."""
    src, images_dir, out_dir = Path(src), Path(images_dir), Path(out_dir)
    files, root = _collect(src)
    if not images_dir.is_dir():
        raise SegstudioError(f"{images_dir}: images folder not found")
    images = images_by_name(images_dir)
    bg = background_index(labelset, background)
    mapper = _LabelmeMapper(labelset, mapping, bg)
    summary = ImportSummary(out_dir=out_dir)
    strict = src.is_file()  # one file: its problem is the command's error
    docs = _read_all(files, images, images_dir, root, summary, strict)
    for d in docs:
        d.shapes = [(s, mapper.index(str(s.get("label", "")))) for s in d.shapes if isinstance(s, dict)]
    if mapper.mapper.unknown and not skip_unknown:
        raise UnknownClassesError(mapper.mapper.unknown, src, labelset, unit="shapes")
    refuse_inputs([out_dir / f"{d.stem}.png" for d in docs], [*files, *set(images.values())], what="mask")
    notes: dict[str, int] = {}
    results = []
    report(progress, 0, len(docs))
    for i, d in enumerate(docs):
        check_cancel(cancelled)
        try:
            size = _doc_size(d, images_dir, summary)
            shapes = [(s, idx) for s, idx in d.shapes if idx is not None]
            results.append((d.stem, rasterise_shapes(shapes, size, bg, d.json_path, notes)))
        except SegstudioError as e:
            if strict:
                raise
            summary.skipped[d.json_path.name] = str(e)
        report(progress, i + 1, len(docs))
    mapper.mapper.fill_summary(summary)
    for what, cnt in sorted(notes.items()):
        summary.notes.append(f"{cnt} {what} not drawn")
    summary.written = write_masks(results, labelset, out_dir, overwrite=overwrite, cancelled=cancelled)
    return summary
