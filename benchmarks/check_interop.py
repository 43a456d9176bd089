"""Interop check: segstudio's files read by the peers' own tools, pixel for pixel.

    .venv/bin/python benchmarks/check_interop.py [--peer-python /tmp/peers-venv/bin/python] [--images N]

The peer tools live in a separate virtual environment (never segstudio's):

    python3.11 -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install datumaro 'labelme>=6,<7'

On synthetic data made in a temporary folder (random polygons, rectangles,
circles, oriented rectangles, lines, line strips, points, `_background_` and `__ignore__` shapes, one
file with embedded imageData naming itself like labelme's apc2016_obj3.json):

1. labelme: segstudio's `import labelme` (VOC label set) against labelme's
   own labelme2voc steps (LabelFile + shapes_to_label; __ignore__ -> 255).
2. VOC: segstudio's `export voc` read back by datumaro ('voc_segmentation',
   what CVAT's "Segmentation mask 1.1" importer runs on); the same export
   without labelmap.txt's void line shows datumaro's old refusal.
3. CVAT: that VOC export re-exported by datumaro's own VOC segmentation
   exporter (colour masks + labelmap.txt, as CVAT's "Segmentation mask 1.1"
   export is made), zipped, and read back by segstudio's `import cvat`.
4. COCO: segstudio's `export coco` (RLE and polygon) read by datumaro
   ('coco_instances', polygons rasterised by datumaro); datumaro wants the
   file as <root>/annotations/instances_<subset>.json beside <root>/images/<subset>/,
   so it is written there.

Prints per-check pixel agreement; the last line is one JSON object. Nothing is
written outside the temporary folder. Exit status 1 if a peer is missing.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from segstudio.core.formats.coco import export_coco
from segstudio.core.formats.cvat import import_cvat
from segstudio.core.formats.labelme import import_labelme
from segstudio.core.formats.voc import export_voc, voc_labelmap
from segstudio.core.imageio import read_label_png
from segstudio.core.labels import preset

PEER = Path(__file__).with_name("interop_peer.py")
VOC = preset("voc")
W, H = 160, 120


def _shape(rng) -> dict:
    name = VOC.names[int(rng.integers(1, VOC.num_classes))]
    kind = rng.choice(["polygon", "rectangle", "circle", "oriented_rectangle", "line", "linestrip", "point"],
                      p=[0.3, 0.15, 0.15, 0.15, 0.08, 0.09, 0.08])
    cx, cy = rng.uniform(10, W - 10), rng.uniform(10, H - 10)
    if kind == "polygon":
        n = int(rng.integers(3, 9))
        ang = np.sort(rng.uniform(0, 2 * math.pi, n))
        r = rng.uniform(8, 40, n)
        pts = [[cx + a * math.cos(t), cy + a * math.sin(t)] for a, t in zip(r, ang)]
    elif kind == "rectangle":
        pts = [[cx, cy], [cx + rng.uniform(-50, 50), cy + rng.uniform(-40, 40)]]
    elif kind == "circle":
        pts = [[cx, cy], [cx + rng.uniform(4, 25), cy]]
    elif kind in ("line", "linestrip", "point"):
        n = {"line": 2, "point": 1}.get(str(kind), int(rng.integers(2, 6)))
        pts = [[cx + rng.uniform(-40, 40), cy + rng.uniform(-30, 30)] for _ in range(n)]
    else:
        t, a, b = rng.uniform(0, math.pi), rng.uniform(6, 30), rng.uniform(4, 20)
        u, v = (a * math.cos(t), a * math.sin(t)), (-b * math.sin(t), b * math.cos(t))
        pts = [[cx + sx * u[0] + sy * v[0], cy + sx * u[1] + sy * v[1]] for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))]
    if rng.random() < 0.12:
        name = "_background_"
    elif rng.random() < 0.08:
        name = "__ignore__"
    return {"label": name, "points": pts, "shape_type": str(kind), "group_id": None, "flags": {}, "description": ""}


def make_labelme(folder: Path, n: int, seed: int = 0) -> Path:
    """n images with labelme JSONs beside them; the last one embeds its image and names itself."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        stem = f"img{i:03d}"
        pixels = rng.integers(0, 255, (H, W, 3), np.uint8)
        doc = {"version": "5.5.0", "flags": {}, "shapes": [_shape(rng) for _ in range(int(rng.integers(2, 9)))],
               "imageHeight": H, "imageWidth": W}
        if i == n - 1:  # like labelme's apc2016_obj3.json
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, format="PNG")
            doc.update(imagePath=f"{stem}.json", imageData=base64.b64encode(buf.getvalue()).decode())
        else:
            Image.fromarray(pixels).save(folder / f"{stem}.png")
            doc.update(imagePath=f"{stem}.png", imageData=None)
        (folder / f"{stem}.json").write_text(json.dumps(doc))
    return folder


def peer(python: str, *args: str) -> tuple[dict[str, np.ndarray] | None, list[str], str]:
    """Run interop_peer.py in the peers' environment: (maps, names, error text)."""
    out = Path(args[-1])
    run = subprocess.run([python, str(PEER), *args], capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        return None, [], (run.stderr.strip().splitlines() or ["exit %d" % run.returncode])[-1]
    with np.load(out) as z:
        names = [str(s) for s in z["__names__"]]
        return {k: z[k] for k in z.files if k != "__names__"}, names, ""


def to_voc_indices(maps: dict[str, np.ndarray], names: list[str], void_names=("ignored", "void")) -> dict:
    """Peer label ids -> VOC class indices by name; unpainted (-1) and void names -> 255."""
    lut = {i: (255 if n.lower() in void_names else VOC.index_of("background" if n == "_background_" else n))
           for i, n in enumerate(names)}
    out = {}
    for stem, m in maps.items():
        a = np.full(m.shape, 255, np.uint8)
        for i, idx in lut.items():
            a[m == i] = idx
        out[stem] = a
    return out


def agreement(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray] | None) -> dict:
    if theirs is None:
        return {"images": 0, "agreement_pct": None}
    stems = sorted(set(ours) & set(theirs))
    same = total = 0
    for s in stems:
        same += int((ours[s] == theirs[s]).sum())
        total += ours[s].size
    return {"images": len(stems), "missing": sorted(set(ours) ^ set(theirs)),
            "agreement_pct": round(100 * same / max(1, total), 4)}


def check_labelme(py: str, tmp: Path, n: int) -> tuple[dict, Path]:
    src = make_labelme(tmp / "labelme", n)
    summary = import_labelme(src, src, VOC, tmp / "masks")
    ours = {p.stem: read_label_png(p) for p in (tmp / "masks").glob("*.png")}
    labels = tmp / "labels.txt"
    labels.write_text("__ignore__\n_background_\n" + "\n".join(VOC.names[1:]) + "\n")
    maps, names, err = peer(py, "labelme", str(src), str(labels), str(tmp / "labelme.npz"))
    theirs = None if maps is None else {k: np.where(v < 0, 255, v).astype(np.uint8) for k, v in maps.items()}
    allpx = np.concatenate([m.ravel() for m in ours.values()])
    res = agreement(ours, theirs) | {"written": len(summary.written), "skipped": len(summary.skipped),
                                     "background_pct": round(100 * float((allpx == 0).mean()), 2),
                                     "void_pct": round(100 * float((allpx == 255).mean()), 2)}
    return res | ({"peer_error": err} if err else {}), src


def check_voc(py: str, tmp: Path, images: Path, masks: Path) -> dict:
    out = tmp / "voc"
    export_voc(images, masks, VOC, out)
    ours = {p.stem: read_label_png(p) for p in (out / "SegmentationClass").glob("*.png")}
    maps, names, err = peer(py, "voc", str(out), str(tmp / "voc.npz"))
    res = agreement(ours, None if maps is None else to_voc_indices(maps, names))
    # the export as it was before issue 14: labelmap.txt without the void line
    lm = out / "labelmap.txt"
    lm.write_text("\n".join(line for line in lm.read_text().splitlines() if not line.startswith("ignored:")) + "\n")
    _, _, old_err = peer(py, "voc", str(out), str(tmp / "voc_old.npz"))
    return res | {"peer_error": err, "without_void_line": old_err or "read without error"}


def check_cvat(py: str, tmp: Path, images: Path, masks: Path) -> dict:
    import shutil

    run = subprocess.run([py, str(PEER), "revoc", str(tmp / "voc"), str(tmp / "cvat")], capture_output=True,
                         text=True, timeout=600)
    if run.returncode != 0:
        return {"images": 0, "agreement_pct": None, "peer_error": run.stderr.strip()[-300:]}
    archive = shutil.make_archive(str(tmp / "cvat_export"), "zip", tmp / "cvat")
    summary = import_cvat(archive, images, VOC, tmp / "cvat_masks")
    ours = {p.stem: read_label_png(p) for p in masks.glob("*.png")}
    back = {p.stem: read_label_png(p) for p in (tmp / "cvat_masks").glob("*.png")}
    return agreement(ours, back) | {"written": len(summary.written), "skipped": len(summary.skipped)}


def check_coco(py: str, tmp: Path, images: Path, masks: Path, mode: str) -> dict:
    # datumaro finds COCO files only as <root>/annotations/instances_<subset>.json
    root = tmp / f"coco_{mode}"
    out = root / "annotations" / "instances_default.json"
    export_coco(images, masks, VOC, out, segmentation=mode)
    (root / "images").mkdir()
    (root / "images" / "default").symlink_to(images.resolve(), target_is_directory=True)
    ours = {p.stem: read_label_png(p) for p in masks.glob("*.png")}
    maps, names, err = peer(py, "coco", str(out), str(tmp / f"coco_{mode}.npz"))
    theirs = None if maps is None else {Path(k).stem: v for k, v in to_voc_indices(maps, names).items()}
    return agreement(ours, theirs) | ({"peer_error": err} if err else {})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer-python", default="/tmp/peers-venv/bin/python", help="python with datumaro and labelme")
    ap.add_argument("--images", type=int, default=12, help="synthetic images (default 12)")
    args = ap.parse_args()
    py = args.peer_python
    probe = subprocess.run([py, "-c", "import datumaro, labelme; print(datumaro.__version__, labelme.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"peer tools not found in {py}: install datumaro and labelme 6.x there (see --help)", file=sys.stderr)
        print(json.dumps({"error": "peers missing"}))
        return 1
    versions = dict(zip(("datumaro", "labelme"), probe.stdout.split()))
    with tempfile.TemporaryDirectory(prefix="segstudio-interop-") as t:
        tmp = Path(t)
        lm, src = check_labelme(py, tmp, args.images)
        results = {"peers": versions, "labelme_import_vs_labelme2voc": lm}
        # exports of the masks just imported (the image embedded in the last JSON has no file: not exported)
        results["voc_export_read_by_datumaro"] = check_voc(py, tmp, src, tmp / "masks")
        (tmp / "voc" / "labelmap.txt").write_text(voc_labelmap(VOC))  # check_voc left it without its void line
        results["datumaro_voc_zip_read_by_import_cvat"] = check_cvat(py, tmp, src, tmp / "masks")
        for mode in ("rle", "polygon"):
            results[f"coco_{mode}_read_by_datumaro"] = check_coco(py, tmp, src, tmp / "masks", mode)
    for key, r in results.items():
        if key != "peers":
            print(f"{key:34s} images {r.get('images', 0):3d}  pixel agreement {r.get('agreement_pct')} %"
                  + (f"  (peer: {r['peer_error']})" if r.get("peer_error") else ""))
    lm_res = results["labelme_import_vs_labelme2voc"]
    print(f"labelme masks: {lm_res['background_pct']} % background (uncovered or _background_), "
          f"{lm_res['void_pct']} % void (__ignore__)")
    print(f"VOC export without its void line: datumaro says {results['voc_export_read_by_datumaro']['without_void_line']}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
