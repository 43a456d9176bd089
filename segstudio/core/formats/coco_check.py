"""The COCO exporter's self-check: the written JSON must load and give back what was meant.

`verify_coco` loads the file with `pycocotools.coco.COCO`; what it loads must
equal the document the exporter wrote (every annotation's category, RLE
string, polygon coordinates, area and box, under the right image: one deep
comparison, no per-annotation work in Python). A sample of images (the
exporter takes every PYCOCOTOOLS_SAMPLE_EVERY-th) is also decoded by
pycocotools (its own RLE decoder and polygon rasteriser) and painted in
annotation order; the class runs of the painted map must equal the
exporter's digest of the label map (coco_rle.runs_digest).

The encoders themselves are checked against pycocotools byte for byte by the
tests, and the polygon exporter compares every polygon's pycocotools raster
with the source when it makes it (coco_polygons). Decoding every annotation
to a full-image mask here cost more than the export itself.
"""

from __future__ import annotations

import contextlib
import io
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


def painted_digest(coco, info: dict, anns: list[dict], num_classes: int, fill: int) -> bytes:
    """Digest of the label map pycocotools' decoded annotations paint, in order, over `fill`."""
    # painted in the transposed (column-major) frame: decoded masks are
    # Fortran-ordered, so their .T is contiguous and indexing stays fast
    labels_t = np.full((info["width"], info["height"]), fill, np.uint8)
    batch_size = max(1, _DECODE_PIXELS // max(1, labels_t.size))  # ~64 MB of masks per call, whatever the size
    for i in range(0, len(anns), batch_size):
        batch = anns[i:i + batch_size]
        decoded_t = mask_utils.decode([coco.annToRLE(a) for a in batch]).T  # N x W x H, C-ordered
        for ann, m in zip(batch, decoded_t):
            np.copyto(labels_t, np.uint8(ann["category_id"] - 1), where=m.view(bool))
    return class_runs_digest(labels_t.T, num_classes)


def verify_coco(path: str | Path, labelset, digests: dict[int, bytes], written: dict | None = None,
                cancelled: CancelFn | None = None) -> None:
    """Load with pycocotools; the data must equal `written` (the document as written, if given), and
    each image in `digests` must decode (pycocotools) back to the label map of that digest."""
    coco = load_coco_api(path)
    if written is not None and coco.dataset != written:
        raise CocoCheckError(f"{path}: what pycocotools loads differs from what was written")
    k, fill = labelset.num_classes, labelset.ignore_index
    for image_id, want in digests.items():
        check_cancel(cancelled)
        info = coco.imgs.get(image_id)
        if info is None:
            raise CocoCheckError(f"{path}: image id {image_id} missing after reload")
        anns = sorted(coco.imgToAnns.get(image_id, []), key=lambda a: a["id"])
        if any(not 1 <= a.get("category_id", 0) <= k for a in anns):
            raise CocoCheckError(f"{path}: an annotation of {info['file_name']} has a category outside 1..{k}")
        if painted_digest(coco, info, anns, k, fill) != want:
            raise CocoCheckError(f"{path}: annotations of {info['file_name']} do not decode back to its mask")
