"""COCO JSON: export label maps as RLE or polygon annotations, import them back.

Export (`export_coco`)
    images {id, width, height, file_name}, categories {id from 1, name,
    supercategory}, annotations {id, image_id, category_id, segmentation,
    area, bbox, iscrowd 0}; area and bbox come from pycocotools.

    segmentation="rle"      one RLE annotation per class present in an image
                            (the COCO-Stuff convention); lossless.
    segmentation="polygon"  one annotation per 8-connected component of a class.
                            A component with holes cannot be a COCO polygon
                            (polygons of one annotation are unioned), so it is
                            written as RLE instead; the summary counts them.

    Polygon vertices follow the pixel *outline*, not pixel centres: the
    component is upsampled 2x and traced with cv2.findContours, and the trace
    (which runs through the centres of the upsampled boundary pixels) is
    mapped back to image coordinates, a quarter pixel inside the true outline.
    pycocotools fills a pixel when its centre lies inside the polygon, so the
    outline re-rasterises to the component exactly in nearly all cases,
    including one-pixel-wide strokes, which a centre-line contour loses
    entirely (benchmarks/bench_formats.py measures the fidelity).

    The JSON is written to a temporary file beside the output, loaded with
    `pycocotools.coco.COCO`, and every image's annotations are decoded and
    painted back into a label map whose digest must equal the source's (RLE)
    or the locally re-rasterised one (polygon) before it is renamed into place.

    `info` carries every field of the COCO spec (description, version, year,
    contributor, url, date_created), so tools that index them find them.

Import (`import_coco`) lives in coco_import.py, the checks every
segmentation passes before pycocotools decodes it in coco_segm.py; both are
re-exported here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import datetime
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ..errors import SegstudioError
from ..jobs import CancelFn, ProgressFn, check_cancel, report
from ..labels import LabelSet
from ..metrics import ConfusionMatrix
from ..output_guard import refuse_inputs
from ..pathsafety import UnsafePathError
from ..staging import staged_file
from .coco_import import import_coco
from .coco_rle import decode_many, encode_label_map, rebuild_label_map
from .coco_segm import decode_segmentation
from .pairing import MaskPair, pair_images_masks, read_mask_for, unpaired_lines


class CocoCheckError(SegstudioError):
    """The exported JSON did not load or decode back to the source masks."""


# --- encoding --------------------------------------------------------------------
def encode_rles(labels: np.ndarray, classes: list[int]) -> list[dict]:
    """One compressed RLE per class in `classes` (each present), counts as str (JSON-ready)."""
    return [body["segmentation"] for body in encode_label_map(labels, classes)] if classes else []


def _rle_for_binary(binary: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(binary.astype(np.uint8)))
    r["counts"] = r["counts"].decode("ascii")
    return r


def outline_polygon(component: np.ndarray) -> tuple[np.ndarray | None, bool]:
    """(N x 2 float outline of an 8-connected component, has_holes).

    `component` is a 0/1 uint8 crop containing exactly one component. The
    polygon is in the crop's pixel-edge coordinates (pixel (x, y) spans
    [x, x+1] x [y, y+1]); every vertex is a multiple of 0.25, exact in floats.
    """
    padded = cv2.copyMakeBorder(component, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    big = cv2.resize(padded, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, hierarchy = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None, False
    has_holes = bool((hierarchy[0][:, 3] >= 0).any())
    outer = max((c for c, h in zip(contours, hierarchy[0]) if h[3] < 0), key=cv2.contourArea)
    pts = outer.reshape(-1, 2).astype(np.float64)
    # upsampled pixel u has its centre at (u + 0.5) / 2; subtract the 1-pixel pad
    pts = (pts + 0.5) / 2.0 - 1.0
    if len(pts) < 3:  # a single upsampled point or segment: make it a thin quad
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        pts = np.array([[x0, y0], [x1 + 0.01, y0], [x1 + 0.01, y1 + 0.01], [x0, y1 + 0.01]])
    return pts, has_holes


def _polygon_rle(poly: list[float], h: int, w: int) -> dict:
    return mask_utils.merge(mask_utils.frPyObjects([poly], h, w))


@dataclass
class _ImageAnns:
    anns: list[dict]  # without ids
    digest: bytes  # digest of the label map the annotations decode to
    fallbacks: int = 0
    confusion: np.ndarray | None = None  # source vs re-decoded (polygon mode)


def _digest(labels: np.ndarray) -> bytes:
    """Digest of an H x W label map, taken column-major (the order pycocotools decodes in)."""
    return hashlib.sha1(np.ascontiguousarray(labels.T)).digest()


def _annotate_image(pair: MaskPair, labelset: LabelSet, mode: str) -> tuple[int, int, _ImageAnns]:
    labels = read_mask_for(pair, labelset)
    h, w = labels.shape
    k = labelset.num_classes
    present = [int(c) for c in np.flatnonzero(np.bincount(labels.ravel(), minlength=256)[:k])]
    anns: list[dict] = []
    if mode == "rle":
        # numpy's encoder: the same strings, areas and boxes as pycocotools (tests), at half its CPU
        for c, body in zip(present, encode_label_map(labels, present) if present else []):
            anns.append({"category_id": c + 1, **body, "iscrowd": 0})
        norm = labels.copy()
        norm[labels >= k] = labelset.ignore_index
        return w, h, _ImageAnns(anns, _digest(norm))
    fallbacks = 0
    rebuilt = np.full((h, w), labelset.ignore_index, np.uint8)
    for c in present:
        binary = (labels == c).astype(np.uint8)
        n, cc, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        for i in range(1, n):
            x, y, bw, bh, _area = stats[i]
            crop = (cc[y:y + bh, x:x + bw] == i).astype(np.uint8)
            poly, holes = outline_polygon(crop)
            if holes or poly is None:
                full = np.zeros((h, w), np.uint8)
                full[y:y + bh, x:x + bw] = crop
                rle = _rle_for_binary(full)
                seg: list | dict = rle
                area, box = int(mask_utils.area(rle)), [float(v) for v in mask_utils.toBbox(rle)]
                fallbacks += 1
            else:
                # rasterise in the crop: pycocotools scales vertices by 5 and
                # rounds, so an integer shift moves the result exactly
                local = _polygon_rle(poly.ravel().tolist(), int(bh), int(bw))
                area = int(mask_utils.area(local))
                lx, ly, lw, lh = (float(v) for v in mask_utils.toBbox(local))
                box = [lx + x, ly + y, lw, lh]
                seg = [(poly + (float(x), float(y))).ravel().tolist()]
                crop = mask_utils.decode(local)
            region = rebuilt[y:y + bh, x:x + bw]
            region[crop.astype(bool)] = c
            anns.append({"category_id": c + 1, "segmentation": seg, "area": area, "bbox": box, "iscrowd": 0})
    cm = ConfusionMatrix(k)
    conf = cm.update(labels, rebuilt)
    return w, h, _ImageAnns(anns, _digest(rebuilt), fallbacks, conf)


@dataclass
class CocoExportSummary:
    out_file: Path
    segmentation: str
    images: int = 0
    annotations: int = 0
    rle_fallbacks: int = 0  # polygon mode: components with holes written as RLE
    fidelity_miou: float | None = None  # polygon mode: mIoU of re-decoded vs source masks
    fidelity_pixel_accuracy: float | None = None
    unannotated: list[str] = field(default_factory=list)
    orphan_masks: list[str] = field(default_factory=list)
    checked: bool = False

    def lines(self) -> list[str]:
        out = [f"{self.images} image(s), {self.annotations} annotation(s) ({self.segmentation}) written to {self.out_file}"]
        if self.segmentation == "polygon":
            out.append(f"{self.rle_fallbacks} component(s) with holes written as RLE to keep their holes")
            if self.fidelity_miou is not None:
                out.append(f"polygon fidelity: mIoU {100 * self.fidelity_miou:.2f} % of re-decoded vs source masks")
        if self.checked:
            out.append("checked: loads with pycocotools and decodes back "
                       + ("exactly to the source masks" if self.segmentation == "rle" else "to the polygons written"))
        return out + unpaired_lines(self.unannotated, self.orphan_masks)


def coco_info(labelset: LabelSet, now: datetime.datetime | None = None) -> dict:
    """COCO's `info` block with every field of the spec."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {"description": f"exported by segstudio ({labelset.name or 'custom'} label set)",
            "version": "1.0", "year": now.year, "contributor": "segstudio",
            "url": "", "date_created": now.strftime("%Y/%m/%d")}


def export_coco(images_dir: str | Path, masks_dir: str | Path, labelset: LabelSet, out_file: str | Path, *,
                segmentation: str = "rle", overwrite: bool = False, workers: int | None = None,
                progress: ProgressFn | None = None, cancelled: CancelFn | None = None) -> CocoExportSummary:
    """Write a COCO JSON of the masks; raises Cancelled (leaving nothing) if cancelled."""
    if segmentation not in ("rle", "polygon"):
        raise SegstudioError(f"segmentation must be 'rle' or 'polygon', not {segmentation!r}")
    out_file = Path(out_file)
    images_dir = Path(images_dir)
    pairing = pair_images_masks(images_dir, masks_dir)
    if not pairing.pairs:
        raise SegstudioError(f"{masks_dir}: no masks matching the images in {images_dir}")
    refuse_inputs([out_file], [f for p in pairing.pairs for f in (p.image, p.mask)], what="output file")
    summary = CocoExportSummary(out_file=out_file, segmentation=segmentation,
                                unannotated=pairing.unannotated, orphan_masks=pairing.orphan_masks)
    n = len(pairing.pairs)
    k = labelset.num_classes
    doc = {
        "info": coco_info(labelset),
        "licenses": [],
        "images": [],
        "annotations": [],
        "categories": [{"id": i + 1, "name": nm, "supercategory": labelset.name or "class"}
                       for i, nm in enumerate(labelset.names)],
    }
    digests: dict[int, bytes] = {}
    total = np.zeros((k, k + 1), np.int64)
    report(progress, 0, n)
    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        futures = [pool.submit(_annotate_image, p, labelset, segmentation) for p in pairing.pairs]
        try:
            for i, (pair, fut) in enumerate(zip(pairing.pairs, futures)):
                check_cancel(cancelled)
                w, h, res = fut.result()
                image_id = i + 1
                doc["images"].append({"id": image_id, "width": w, "height": h, "file_name": pair.image.name})
                for ann in res.anns:
                    ann = {"id": len(doc["annotations"]) + 1, "image_id": image_id, **ann}
                    doc["annotations"].append(ann)
                digests[image_id] = res.digest
                summary.rle_fallbacks += res.fallbacks
                if res.confusion is not None:
                    total += res.confusion
                report(progress, i + 1, n)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    summary.images, summary.annotations = n, len(doc["annotations"])
    if segmentation == "polygon":
        cm = ConfusionMatrix(k)
        cm.add_matrix(total)
        s = cm.scores()
        summary.fidelity_miou, summary.fidelity_pixel_accuracy = float(s.mean_iou), float(s.pixel_accuracy)
    with staged_file(out_file, overwrite=overwrite) as tmp:
        # json.dumps runs the C encoder; json.dump would iterate in Python
        tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
        check_cancel(cancelled)
        verify_coco(tmp, labelset, digests, cancelled=cancelled)
    summary.checked = True
    return summary


def load_coco_api(path: str | Path):
    """pycocotools.coco.COCO on `path`, its chatter kept off stdout."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        try:
            return COCO(str(path))
        except Exception as e:  # pycocotools raises AssertionError / KeyError / JSON errors
            raise CocoCheckError(f"{path}: pycocotools cannot load it ({type(e).__name__}: {e})") from None


#: In the self-check, every this-many-th image is also decoded by pycocotools when
#: the others are decoded by coco_rle (which is tested against pycocotools).
PYCOCOTOOLS_SAMPLE_EVERY = 16


def _numpy_decoded(info: dict, anns: list[dict], fill: int) -> np.ndarray | None:
    """The label map of an image's RLE annotations by coco_rle's decoder (None if any is not an RLE)."""
    texts = []
    for a in anns:
        seg = a.get("segmentation")
        if not isinstance(seg, dict) or not isinstance(seg.get("counts"), str) \
                or seg.get("size") != [info["height"], info["width"]]:
            return None
        texts.append(seg["counts"])
    items = [(a["category_id"] - 1, c) for a, c in zip(anns, decode_many(texts))]
    if any(int(c.sum()) != info["height"] * info["width"] for _, c in items):
        return None
    return rebuild_label_map(info["height"], info["width"], items, fill)


def verify_coco(path: str | Path, labelset: LabelSet, digests: dict[int, bytes], cancelled: CancelFn | None = None) -> None:
    """Load with pycocotools, decode every annotation, compare each image's label map digest."""
    coco = load_coco_api(path)
    for n, (image_id, expected) in enumerate(digests.items()):
        check_cancel(cancelled)
        info = coco.imgs.get(image_id)
        if info is None:
            raise CocoCheckError(f"{path}: image id {image_id} missing after reload")
        if n % PYCOCOTOOLS_SAMPLE_EVERY:
            anns = sorted(coco.imgToAnns.get(image_id, []), key=lambda a: a["id"])
            labels = _numpy_decoded(info, anns, labelset.ignore_index)
            if labels is not None:
                if _digest(labels) != expected:
                    raise CocoCheckError(f"{path}: annotations of {info['file_name']} do not decode back to its mask")
                continue
        # painted in the transposed (column-major) frame: decoded masks are
        # Fortran-ordered, so their .T is contiguous and indexing stays fast
        labels_t = np.full((info["width"], info["height"]), labelset.ignore_index, np.uint8)
        anns = sorted(coco.imgToAnns.get(image_id, []), key=lambda a: a["id"])
        if anns:
            decoded_t = mask_utils.decode([coco.annToRLE(a) for a in anns]).T  # N x W x H, C-ordered
            for ann, m in zip(anns, decoded_t):
                np.copyto(labels_t, np.uint8(ann["category_id"] - 1), where=m.view(bool))
        if _digest(labels_t.T) != expected:
            raise CocoCheckError(f"{path}: annotations of {info['file_name']} do not decode back to its mask")


__all__ = ["export_coco", "import_coco", "verify_coco", "decode_segmentation", "encode_rles", "outline_polygon", "coco_info",
           "CocoExportSummary", "CocoCheckError", "UnsafePathError", "load_coco_api"]
