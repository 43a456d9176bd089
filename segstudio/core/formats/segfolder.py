"""Importing a VOC-shaped `SegmentationClass/` folder (Pascal VOC and CVAT exports).

Index PNGs (mode P / L, 255 = void) are read directly; colour PNGs are mapped
through the folder's `labelmap.txt` (CVAT's export). When the folder names its
classes (labelmap.txt or class_names.txt) they are matched to the label set by
name; otherwise the indices are taken as the label set's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ImageLoadError, SegstudioError
from ..imageio import image_size, label_pngs
from ..jobs import CancelFn, ProgressFn, check_cancel, report
from ..labels import LabelSet, read_class_names, read_cvat_labelmap
from ..output_guard import refuse_inputs
from ..palette import voc_color
from .classmap import ClassMapper, ImportSummary, UnknownClassesError
from .masks import write_masks
from .pairing import images_by_name

VOID = 255  # the VOC void value, whatever the label set's own ignore index is
VOID_COLOR = voc_color(255)  # (224, 224, 192)
# labelmap.txt names for void: datumaro's VocLabel.ignored (what segstudio's VOC export declares), "void"
VOID_NAMES = frozenset({"ignored", "void"})


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


def _segmentation_dir(src: Path, kind: str) -> Path:
    seg = src / "SegmentationClass"
    if not seg.is_dir():
        raise SegstudioError(f"{src}: no SegmentationClass folder; is this a {kind} export?")
    return seg


def _colour_labels(f: Path, a: np.ndarray, mode: str, source: _SourceClasses, targets: list[int | None],
                   ig: int, unknown_colors: dict[tuple[int, int, int], int]) -> np.ndarray:
    """Labels of a colour mask through the folder's labelmap.txt; unlisted colours are counted."""
    if source.colors is None:
        raise SegstudioError(f"{f}: a colour mask needs {f.parent.parent / 'labelmap.txt'} to map colours to classes")
    if mode == "index":
        a = _palette_rgb(f)
    void = [] if VOID_COLOR in source.colors else [VOID_COLOR]  # VOC's void colour is void
    labels, unlisted = map_colors(a, source.colors + void, targets + [None] * len(void), ig)
    for c, cnt in unlisted.items():
        unknown_colors[c] = unknown_colors.get(c, 0) + cnt
    return labels


def _index_labels(a: np.ndarray, targets: list[int | None] | None, labelset: LabelSet,
                  unknown_values: dict[int, int]) -> np.ndarray:
    """Labels of an index mask (255 = void), through the folder's class names when it has them."""
    k, ig = labelset.num_classes, labelset.ignore_index
    present = np.flatnonzero(np.bincount(a.ravel(), minlength=256))
    if targets is not None:
        lut = np.full(256, ig, np.uint8)
        for j, t in enumerate(targets):
            lut[j] = ig if t is None else t
        bad = [v for v in present if v >= len(targets) and v != VOID]
        labels = lut[a]
    else:
        bad = [v for v in present if v >= k and v != VOID and v != ig]
        labels = a.copy()
        labels[a == VOID] = ig
        labels[(labels >= k) & (labels != ig)] = ig
    for v in bad:
        unknown_values[int(v)] = unknown_values.get(int(v), 0) + 1
    return labels


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
    seg = _segmentation_dir(src, kind)
    images_dir, out_dir = Path(images_dir), Path(out_dir)
    images = images_by_name(images_dir)
    source = _source_classes(src)
    mapper = ClassMapper(labelset, mapping)
    targets: list[int | None] | None = None
    if source.names is not None:
        targets = [None if n.lower() in VOID_NAMES and labelset.get_index(n) is None else mapper.index(n)
                   for n in source.names]
    summary = ImportSummary(out_dir=out_dir)
    files = list(label_pngs(seg).values())
    if not files:
        raise SegstudioError(f"{seg}: no PNG files")
    ig = labelset.ignore_index
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
            labels = _colour_labels(f, a, mode, source, targets, ig, unknown_colors)
        else:
            labels = _index_labels(a, targets, labelset, unknown_values)
        w, h = image_size(image)
        if labels.shape != (h, w):
            raise SegstudioError(f"{f}: mask is {labels.shape[1]}x{labels.shape[0]} but image {image} is {w}x{h}")
        results.append((f.stem, labels))
        report(progress, i + 1, n)
    unknown = dict(mapper.unknown)
    unknown.update({f"colour {c[0]},{c[1]},{c[2]}": cnt for c, cnt in unknown_colors.items()})
    unknown.update({f"value {v}": cnt for v, cnt in unknown_values.items()})
    if unknown and not skip_unknown:
        raise UnknownClassesError(unknown, src, labelset, unit="files" if not unknown_colors else "pixels/files")
    mapper.fill_summary(summary)
    summary.unknown.update(unknown)
    refuse_inputs([out_dir / f"{s}.png" for s, _ in results], [*files, *set(images.values())], what="mask")
    summary.written = write_masks(results, labelset, out_dir, overwrite=overwrite, cancelled=cancelled)
    return summary
