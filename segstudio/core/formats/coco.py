"""COCO JSON: export label maps as RLE or polygon annotations, import them back.

Export (`export_coco`)
    images {id, width, height, file_name}, categories {id from 1, name,
    supercategory}, annotations {id, image_id, category_id, segmentation,
    area, bbox, iscrowd 0}; area and bbox as pycocotools computes them.

    segmentation="rle"      one RLE annotation per class present in an image
                            (the COCO-Stuff convention); lossless.
    segmentation="polygon"  one annotation per 8-connected component of a class.
                            A component with holes cannot be a COCO polygon
                            (polygons of one annotation are unioned), so it is
                            written as RLE instead; the summary counts them.

    Polygons and their holed-component fallbacks come from coco_polygons.py
    (pixel-outline polygons, each class traced once); RLE from coco_rle.py
    (counts of all classes of a label map at once in numpy, strings by
    pycocotools' own compressor).
    Each label map is read once and split into column-major runs, which
    serve the value check, the encoders and the self-check digests.

    Label PNGs and image sizes are read by fastpng.py (OpenCV, PNG headers),
    which hands anything unusual to core.imageio.

    The JSON is written to a temporary file beside the output and checked
    before it is renamed into place (coco_check.py): its bytes must parse,
    as `pycocotools.coco.COCO` parses a file, to the document written, and
    every 16th image is decoded by pycocotools and painted back
    into a label map that must equal the source (RLE) or what the polygons
    were found to rasterise to when they were made (polygon).

    `info` carries every field of the COCO spec (description, version, year,
    contributor, url, date_created), so tools that index them find them.

Import (`import_coco`) lives in coco_import.py, the checks every
segmentation passes before pycocotools decodes it in coco_segm.py; both are
re-exported here.
"""

from __future__ import annotations

import datetime
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SegstudioError
from ..jobs import CancelFn, ProgressFn, check_cancel, report
from ..labels import LabelSet
from ..metrics import ConfusionMatrix
from ..output_guard import refuse_inputs
from ..pathsafety import UnsafePathError
from ..staging import staged_file
from .coco_check import PYCOCOTOOLS_SAMPLE_EVERY, CocoCheckError, load_coco_api, verify_coco
from .coco_import import import_coco
from .coco_json import dumps_with_segmentations
from .coco_polygons import outline_polygon, polygon_annotations
from .coco_rle import encode_runs, label_runs, runs_digest
from .coco_segm import decode_segmentation
from .fastpng import image_size_fast, read_label_fast
from .pairing import MaskPair, check_values, pair_images_masks, unpaired_lines


@dataclass
class _ImageAnns:
    anns: list[dict]  # without ids
    digest: bytes  # of the label map the annotations decode to (b"" unless `sampled`)
    fallbacks: int = 0
    confusion: np.ndarray | None = None  # source vs re-decoded (polygon mode)
    seg_texts: list[str | None] | None = None  # polygon mode: segmentations as JSON text (coco_json)


def _annotate_image(pair: MaskPair, labelset: LabelSet, mode: str, sampled: bool = True) -> tuple[int, int, _ImageAnns]:
    """An image's annotations from its label map's column-major runs (read once); `sampled`: the
    self-check decodes this image to pixels, so it needs the label map's digest."""
    size = image_size_fast(pair.image)
    labels = read_label_fast(pair.mask, expected_size=size, image_path=pair.image)
    h, w = labels.shape
    starts, ends, values = label_runs(labels)
    check_values(values, labelset, pair.mask)  # the runs' values are the map's values
    keep = values < labelset.num_classes
    runs = starts[keep], ends[keep], values[keep]
    if mode == "polygon":
        res = polygon_annotations(labels, runs, labelset.num_classes, labelset.ignore_index, sampled)
        return w, h, _ImageAnns(res.anns, res.digest, res.fallbacks, res.confusion, res.seg_texts)
    # one RLE per class present, pycocotools' exact strings, areas and boxes (tests)
    classes, bodies = encode_runs(*runs, h, w)
    anns = [{"category_id": c + 1, **body, "iscrowd": 0} for c, body in zip(classes, bodies)]
    return w, h, _ImageAnns(anns, runs_digest(*runs) if sampled else b"")


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
            out.append("checked: loads as pycocotools loads it, with every annotation as written; every "
                       f"{PYCOCOTOOLS_SAMPLE_EVERY}th image decodes (pycocotools) back "
                       + ("exactly to its mask" if self.segmentation == "rle" else "to what its polygons rasterise to"))
        return out + unpaired_lines(self.unannotated, self.orphan_masks)


def coco_info(labelset: LabelSet, now: datetime.datetime | None = None) -> dict:
    """COCO's `info` block with every field of the spec."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {"description": f"exported by segstudio ({labelset.name or 'custom'} label set)",
            "version": "1.0", "year": now.year, "contributor": "segstudio",
            "url": "", "date_created": now.strftime("%Y/%m/%d")}


def _new_document(labelset: LabelSet) -> dict:
    return {
        "info": coco_info(labelset),
        "licenses": [],
        "images": [],
        "annotations": [],
        "categories": [{"id": i + 1, "name": nm, "supercategory": labelset.name or "class"}
                       for i, nm in enumerate(labelset.names)],
    }


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
    if os.path.lexists(out_file):  # a path that is not there is none of the inputs, which are
        refuse_inputs([out_file], [f for p in pairing.pairs for f in (p.image, p.mask)], what="output file")
    summary = CocoExportSummary(out_file=out_file, segmentation=segmentation,
                                unannotated=pairing.unannotated, orphan_masks=pairing.orphan_masks)
    n = len(pairing.pairs)
    k = labelset.num_classes
    doc = _new_document(labelset)
    digests: dict[int, bytes] = {}
    seg_texts: list[str | None] = []
    total = np.zeros((k, k + 1), np.int64)
    report(progress, 0, n)
    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        futures = [pool.submit(_annotate_image, p, labelset, segmentation, i % PYCOCOTOOLS_SAMPLE_EVERY == 0)
                   for i, p in enumerate(pairing.pairs)]
        try:
            for i, (pair, fut) in enumerate(zip(pairing.pairs, futures)):
                check_cancel(cancelled)
                w, h, res = fut.result()
                image_id = i + 1
                doc["images"].append({"id": image_id, "width": w, "height": h, "file_name": pair.image.name})
                for ann in res.anns:
                    ann = {"id": len(doc["annotations"]) + 1, "image_id": image_id, **ann}
                    doc["annotations"].append(ann)
                seg_texts += res.seg_texts or [None] * len(res.anns)
                if res.digest:  # a sampled image (decided once, at submission)
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
        scores = cm.scores()
        summary.fidelity_miou, summary.fidelity_pixel_accuracy = float(scores.mean_iou), float(scores.pixel_accuracy)
    with staged_file(out_file, overwrite=overwrite) as tmp:
        # json.dumps runs the C encoder (json.dump would iterate in Python); polygons come pre-formatted
        tmp.write_text(dumps_with_segmentations(doc, seg_texts), encoding="utf-8")
        check_cancel(cancelled)
        verify_coco(tmp, labelset, digests, doc, cancelled=cancelled, name=f"{out_file} (not written)")
    summary.checked = True
    return summary


__all__ = ["export_coco", "import_coco", "verify_coco", "decode_segmentation", "outline_polygon", "coco_info",
           "CocoExportSummary", "CocoCheckError", "UnsafePathError", "load_coco_api"]
