"""Benchmark the exports on CamVid train+val (468 masks): speed, fidelity, round trips.

    python benchmarks/bench_formats.py [--camvid DIR] [--limit N]

Exports the masks to COCO RLE, COCO polygon and Pascal VOC, with images/s
for each, then checks independently of the exporters' own self-check:
- RLE round trip: pycocotools decodes every image back to its source mask;
- polygon fidelity: mIoU of the re-decoded masks against the source (and, for
  comparison, of polygons through pixel centres, the usual cv2 contours);
- VOC round trip: SegmentationClass PNGs equal the sources (void 255 <-> 11),
  palette exact.
The baseline, measured in the same run, is a straightforward RLE exporter
(one np.asfortranarray + encode per class, one thread). Targets (issue 15):
the RLE export, self-check included, >= 2x the baseline's images/s; polygon
export >= 50 images/s at fidelity >= 0.99; both round trips exact. On a busy
machine wall-clock figures depend on the load, so CPU ms per image (all
threads) are printed too. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segstudio.core.formats.coco import export_coco, load_coco_api  # noqa: E402
from segstudio.core.imageio import image_size, read_label_png  # noqa: E402
from segstudio.core.labels import preset  # noqa: E402
from segstudio.core.metrics import ConfusionMatrix  # noqa: E402
from segstudio.core.formats.voc import export_voc  # noqa: E402

DEFAULT_CAMVID = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "camvid"


def gather(camvid: Path, work: Path, limit: int | None) -> tuple[Path, Path, list[str]]:
    images, masks = work / "images", work / "masks"
    images.mkdir()
    masks.mkdir()
    stems = []
    for split in ("train", "val"):
        for p in sorted((camvid / split).glob("*.png")):
            os.symlink(p, images / p.name)
            os.symlink(camvid / f"{split}annot" / p.name, masks / p.name)
            stems.append(p.stem)
    if limit:
        for s in stems[limit:]:
            (images / f"{s}.png").unlink()
            (masks / f"{s}.png").unlink()
        stems = stems[:limit]
    return images, masks, stems


def naive_rle_export(images: Path, masks: Path, ls, out: Path) -> None:
    doc = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": n} for i, n in enumerate(ls.names)]}
    for i, p in enumerate(sorted(masks.glob("*.png"))):
        w, h = image_size(images / p.name)
        labels = np.asarray(Image.open(p))
        doc["images"].append({"id": i + 1, "file_name": p.name, "width": w, "height": h})
        for c in range(ls.num_classes):
            m = labels == c
            if not m.any():
                continue
            r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            r["counts"] = r["counts"].decode()
            doc["annotations"].append({"id": len(doc["annotations"]) + 1, "image_id": i + 1, "category_id": c + 1,
                                       "segmentation": r, "area": float(mask_utils.area(r)),
                                       "bbox": mask_utils.toBbox(r).tolist(), "iscrowd": 0})
    out.write_text(json.dumps(doc))


def decode_coco(path: Path, ls) -> dict[str, np.ndarray]:
    coco = load_coco_api(path)
    out = {}
    for img in coco.imgs.values():
        labels = np.full((img["height"], img["width"]), ls.ignore_index, np.uint8)
        for ann in sorted(coco.imgToAnns[img["id"]], key=lambda a: a["id"]):
            labels[coco.annToMask(ann).astype(bool)] = ann["category_id"] - 1
        out[Path(img["file_name"]).stem] = labels
    return out


def centre_contour_fidelity(masks: Path, stems: list[str], ls) -> float:
    """mIoU of polygons through boundary pixel centres (plain cv2.findContours), for comparison."""
    cm = ConfusionMatrix(ls.num_classes)
    for s in stems:
        src = read_label_png(masks / f"{s}.png")
        h, w = src.shape
        rebuilt = np.full_like(src, ls.ignore_index)
        for c in range(ls.num_classes):
            contours, _ = cv2.findContours((src == c).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            polys = [c_.reshape(-1).astype(float).tolist() for c_ in contours if len(c_) >= 3]
            if polys:
                rebuilt[mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, h, w))).astype(bool)] = c
        cm.update(src, rebuilt)
    return float(cm.scores().mean_iou)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--camvid", type=Path, default=DEFAULT_CAMVID)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N images (quick runs)")
    args = ap.parse_args()
    ls = preset("camvid")
    res: dict = {"benchmark": "formats", "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-formats-") as tmp:
        work = Path(tmp)
        images, masks, stems = gather(args.camvid, work, args.limit)
        n = len(stems)
        res["images"] = n
        print(f"{n} CamVid masks (train+val) from {args.camvid}")
        sources = {s: read_label_png(masks / f"{s}.png") for s in stems}

        with contextlib.redirect_stdout(io.StringIO()):
            load_coco_api  # noqa: B018  (imports warmed below)
        t, c = time.perf_counter(), time.process_time()
        naive_rle_export(images, masks, ls, work / "naive.json")
        t_naive, c_naive = time.perf_counter() - t, time.process_time() - c

        t, c = time.perf_counter(), time.process_time()
        s_rle = export_coco(images, masks, ls, work / "rle.json", segmentation="rle")
        t_rle, c_rle = time.perf_counter() - t, time.process_time() - c
        dec = decode_coco(work / "rle.json", ls)
        rle_exact = all(np.array_equal(dec[s], sources[s]) for s in stems)

        t, c = time.perf_counter(), time.process_time()
        s_poly = export_coco(images, masks, ls, work / "poly.json", segmentation="polygon")
        t_poly, c_poly = time.perf_counter() - t, time.process_time() - c
        dec = decode_coco(work / "poly.json", ls)
        cm = ConfusionMatrix(ls.num_classes)
        for s in stems:
            cm.update(sources[s], dec[s])
        sc = cm.scores()
        fidelity = float(sc.mean_iou)
        exact_images = sum(np.array_equal(dec[s], sources[s]) for s in stems)
        centre_fid = centre_contour_fidelity(masks, stems, ls)

        t = time.perf_counter()
        export_voc(images, masks, ls, work / "voc")
        t_voc = time.perf_counter() - t
        voc_exact = True
        pal_ok = True
        expected_pal = list(ls.palette()[:3 * ls.num_classes]) + [224, 224, 192]
        for s in stems:
            with Image.open(work / "voc" / "SegmentationClass" / f"{s}.png") as im:
                a = np.asarray(im).copy()
                pal = im.getpalette()
            pal_ok &= pal[:3 * ls.num_classes] + pal[765:768] == expected_pal
            a[a == 255] = ls.ignore_index
            voc_exact &= bool(np.array_equal(a, sources[s]))

    res.update({
        "rle_images_per_s": round(n / t_rle, 1),
        "naive_rle_images_per_s": round(n / t_naive, 1),
        "rle_speedup_vs_naive": round(t_naive / t_rle, 2),
        "rle_round_trip_exact": bool(rle_exact),
        # CPU seconds (all threads) per image: the figures that hold on a busy machine
        "naive_rle_cpu_ms_per_image": round(1000 * c_naive / n, 2),
        "rle_cpu_ms_per_image": round(1000 * c_rle / n, 2),
        "rle_cpu_speedup_vs_naive": round(c_naive / c_rle, 2),
        "polygon_cpu_ms_per_image": round(1000 * c_poly / n, 2),
        "polygon_images_per_s": round(n / t_poly, 1),
        "polygon_fidelity_miou": round(fidelity, 5),
        "polygon_fidelity_pixel_accuracy": round(float(sc.pixel_accuracy), 5),
        "polygon_images_exact": int(exact_images),
        "polygon_rle_fallbacks": s_poly.rle_fallbacks,
        "polygon_annotations": s_poly.annotations,
        "centre_contour_fidelity_miou": round(centre_fid, 4),
        "voc_images_per_s": round(n / t_voc, 1),
        "voc_round_trip_exact": bool(voc_exact),
        "voc_palette_exact": bool(pal_ok),
        "rle_annotations": s_rle.annotations,
    })
    res["targets_met"] = bool(res["rle_speedup_vs_naive"] >= 2.0 and res["polygon_images_per_s"] >= 50
                              and fidelity >= 0.99 and rle_exact and voc_exact)
    print(f"COCO RLE      {res['rle_images_per_s']:7.1f} img/s  (naive baseline {res['naive_rle_images_per_s']} img/s, "
          f"x{res['rle_speedup_vs_naive']})  round trip exact: {rle_exact}")
    print(f"              CPU {res['rle_cpu_ms_per_image']} ms/image (naive {res['naive_rle_cpu_ms_per_image']}, "
          f"x{res['rle_cpu_speedup_vs_naive']})")
    print(f"COCO polygon  {res['polygon_images_per_s']:7.1f} img/s  fidelity mIoU {fidelity:.5f} "
          f"({exact_images}/{n} images exact; pixel-centre contours: {centre_fid:.4f}), "
          f"{s_poly.rle_fallbacks} holed components as RLE; CPU {res['polygon_cpu_ms_per_image']} ms/image")
    print(f"Pascal VOC    {res['voc_images_per_s']:7.1f} img/s  round trip exact: {voc_exact}, palette exact: {pal_ok}")
    print(json.dumps(res))
    return 0 if res["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
