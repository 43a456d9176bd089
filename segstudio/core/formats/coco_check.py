"""The COCO exporter's self-check: the written JSON must load and give back what was meant.

`verify_coco` loads the file with `pycocotools.coco.COCO`, then for every
image:

- its annotations, sorted by id, must be the ones the exporter wrote: same
  categories, same RLE strings, same polygon coordinates (`annotations_digest`,
  taken by the exporter before writing); this catches a file that does not
  survive the JSON round trip or annotations filed under the wrong image;
- every PYCOCOTOOLS_SAMPLE_EVERY-th image is also decoded by pycocotools
  (its own RLE decoder and polygon rasteriser) and painted in annotation
  order; the class runs of the painted map must equal the exporter's
  digest of the label map (coco_rle.runs_digest).

The encoders themselves are checked against pycocotools byte for byte by the
tests; the polygon exporter compares every polygon's pycocotools raster with
the source when it makes it (coco_polygons). Decoding every annotation to a
full-image mask here cost more than the export itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from array import array
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pycocotools import mask as mask_utils

from ..errors import SegstudioError
from ..jobs import CancelFn, check_cancel
from .coco_rle import class_runs_digest

#: every this-many-th image is also decoded to pixels by pycocotools
PYCOCOTOOLS_SAMPLE_EVERY = 16


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


def annotations_digest(anns: list[dict]) -> bytes:
    """Digest of annotations' category ids and segmentations (RLE strings, polygon coordinates), in order."""
    h = hashlib.sha1()
    for a in anns:
        seg = a["segmentation"]
        if isinstance(seg, dict):
            h.update(b"r%d:%d,%d:" % (a["category_id"], *seg["size"]))
            h.update(seg["counts"].encode("ascii"))
        else:
            h.update(b"p%d:%d:" % (a["category_id"], len(seg)))
            for poly in seg:
                h.update(array("d", poly).tobytes())
                h.update(b";")
    return h.digest()


def painted_digest(coco, info: dict, anns: list[dict], num_classes: int, fill: int) -> bytes:
    """Digest of the label map pycocotools' decoded annotations paint, in order, over `fill`."""
    # painted in the transposed (column-major) frame: a decoded mask is
    # Fortran-ordered, so its .T is contiguous and indexing stays fast
    labels_t = np.full((info["width"], info["height"]), fill, np.uint8)
    for ann in anns:
        m = mask_utils.decode(coco.annToRLE(ann)).T
        np.copyto(labels_t, np.uint8(ann["category_id"] - 1), where=m.view(bool))
    return class_runs_digest(labels_t.T, num_classes)


class ImageCheck(NamedTuple):
    """What one image's annotations must give back: the class-runs digest of its label map
    (coco_rle.runs_digest) and the annotations_digest of the annotations written."""

    map_digest: bytes
    written_digest: bytes


def _written_digest(anns: list[dict]) -> bytes | None:
    try:
        return annotations_digest(anns)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def verify_coco(path: str | Path, labelset, checks: dict[int, ImageCheck], cancelled: CancelFn | None = None) -> None:
    """Load with pycocotools; every image's annotations must be the ones written, and every
    PYCOCOTOOLS_SAMPLE_EVERY-th image must decode (pycocotools) back to its label map."""
    coco = load_coco_api(path)
    k, fill = labelset.num_classes, labelset.ignore_index
    for n, (image_id, want) in enumerate(checks.items()):
        info = coco.imgs.get(image_id)
        if info is None:
            raise CocoCheckError(f"{path}: image id {image_id} missing after reload")
        anns = sorted(coco.imgToAnns.get(image_id, []), key=lambda a: a["id"])
        if any(not 1 <= a.get("category_id", 0) <= k for a in anns):
            raise CocoCheckError(f"{path}: an annotation of {info['file_name']} has a category outside 1..{k}")
        if _written_digest(anns) != want.written_digest:
            raise CocoCheckError(f"{path}: annotations of {info['file_name']} differ from the ones written")
        if n % PYCOCOTOOLS_SAMPLE_EVERY == 0:
            check_cancel(cancelled)
            if painted_digest(coco, info, anns, k, fill) != want.map_digest:
                raise CocoCheckError(f"{path}: annotations of {info['file_name']} do not decode back to its mask")
