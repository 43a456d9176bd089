"""The COCO exporter's self-check: the written JSON must load and give back what was meant.

`verify_coco` parses the file's bytes with json (what `pycocotools.coco.COCO`
does with a file before it indexes it); the result must equal the document
the exporter meant to write (every annotation's category, RLE string,
polygon coordinates, area and box, under the right image: one deep
comparison, no per-annotation work in Python), and the ids pycocotools
indexes by must be there. A sample of images (the exporter takes every
PYCOCOTOOLS_SAMPLE_EVERY-th) is also decoded by pycocotools (its own polygon
rasteriser, RLE merge and decoder, as `COCO.annToMask` uses them) and painted
in annotation order; the class runs of the painted map must equal the
exporter's digest of the label map (coco_rle.runs_digest). Where the classes'
unions do not overlap (as for every exported image whose rasters are exact),
each class is decoded once, its annotations merged by pycocotools first.

The encoders themselves are checked against pycocotools byte for byte by the
tests, and the polygon exporter compares every polygon's pycocotools raster
with the source when it makes it (coco_polygons). Decoding every annotation
to a full-image mask here cost more than the export itself.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from ..errors import SegstudioError
from ..jobs import CancelFn, check_cancel
from .coco_rle import class_runs_digest

#: every this-many-th image is also decoded to pixels by pycocotools
PYCOCOTOOLS_SAMPLE_EVERY = 16
_DECODE_PIXELS = 64_000_000  # mask pixels pycocotools decodes per call (bytes of decoded masks held)


class CocoCheckError(SegstudioError):
    """The exported JSON did not load or decode back to the source masks."""


def load_coco_api(path: str | Path):
    """pycocotools.coco.COCO on `path`, its chatter kept off stdout."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        try:
            return COCO(str(path))
        except Exception as e:  # pycocotools raises AssertionError / KeyError / JSON errors
            raise CocoCheckError(f"{path}: pycocotools cannot load it ({type(e).__name__}: {e})") from None


def _load(path: Path, shown: str) -> tuple[dict, dict[int, dict], dict[int, list[dict]]]:
    """The parsed file, its images by id and its annotations by image id (as COCO.createIndex makes them);
    errors name it `shown`."""
    try:
        doc = json.loads(path.read_bytes())
        if not isinstance(doc, dict):
            raise TypeError(f"the top level is a {type(doc).__name__}, not an object")
        images = {img["id"]: img for img in doc.get("images", [])}
        anns: dict[int, list[dict]] = {}
        for a in doc.get("annotations", []):
            anns.setdefault(a["image_id"], []).append(a)
        if not all("id" in x for x in doc.get("annotations", []) + doc.get("categories", [])):
            raise KeyError("id")
    except Exception as e:  # json errors, a missing id, a non-object entry
        raise CocoCheckError(f"{shown}: pycocotools cannot load it ({type(e).__name__}: {e})") from None
    return doc, images, anns


def _rle(segm, h: int, w: int) -> dict:
    """pycocotools' RLE of a segmentation (COCO.annToRLE's rules)."""
    if isinstance(segm, list):
        return mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
    if isinstance(segm["counts"], list):
        return mask_utils.frPyObjects(segm, h, w)
    return segm


def _paint(labels_t: np.ndarray, values: list[int], rles: list[dict]) -> None:
    """Paint pycocotools' decoded `rles` over the transposed label map, in order."""
    # decoded masks are Fortran-ordered, so their .T is contiguous and indexing stays fast
    batch_size = max(1, _DECODE_PIXELS // max(1, labels_t.size))  # ~64 MB of masks per call, whatever the size
    for i in range(0, len(rles), batch_size):
        decoded_t = mask_utils.decode(rles[i:i + batch_size]).T  # N x W x H, C-ordered
        for value, m in zip(values[i:i + batch_size], decoded_t):
            np.copyto(labels_t, np.uint8(value), where=m.view(bool))


def painted_digest(info: dict, anns: list[dict], num_classes: int, fill: int) -> bytes:
    """Digest of the label map pycocotools' decoded annotations paint, in order, over `fill`."""
    h, w = info["height"], info["width"]
    values = [a["category_id"] - 1 for a in anns]
    rles = [_rle(a["segmentation"], h, w) for a in anns]
    classes = sorted(set(values))
    unions = [mask_utils.merge([r for r, v in zip(rles, values) if v == c]) for c in classes]
    areas = mask_utils.area(unions).astype(np.int64) if unions else np.zeros(0, np.int64)
    if len(unions) > 1 and int(areas.sum()) != int(mask_utils.area(mask_utils.merge(unions))):
        classes, unions = values, rles  # classes overlap: the order of the annotations decides
    labels_t = np.full((w, h), fill, np.uint8)
    _paint(labels_t, classes, unions)
    return class_runs_digest(labels_t.T, num_classes)


def verify_coco(path: str | Path, labelset, digests: dict[int, bytes], written: dict | None = None,
                cancelled: CancelFn | None = None, name: str | None = None) -> None:
    """Parse the file; it must equal `written` (the document as written, if given), and each image in
    `digests` must decode (pycocotools) back to the label map of that digest. Errors name the file
    as `name` (e.g. the destination of a staged temporary file), else by its path."""
    path = Path(path)
    shown = name or str(path)
    doc, images, by_image = _load(path, shown)
    if written is not None and doc != written:
        raise CocoCheckError(f"{shown}: what pycocotools loads differs from what was written")
    k, fill = labelset.num_classes, labelset.ignore_index
    for image_id, want in digests.items():
        check_cancel(cancelled)
        info = images.get(image_id)
        if info is None:
            raise CocoCheckError(f"{shown}: image id {image_id} missing after reload")
        anns = sorted(by_image.get(image_id, []), key=lambda a: a["id"])
        if any(not 1 <= a.get("category_id", 0) <= k for a in anns):
            raise CocoCheckError(f"{shown}: an annotation of {info['file_name']} has a category outside 1..{k}")
        if painted_digest(info, anns, k, fill) != want:
            raise CocoCheckError(f"{shown}: annotations of {info['file_name']} do not decode back to its mask")
