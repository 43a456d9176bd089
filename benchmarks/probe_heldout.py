"""Probes: test-time changes that might carry a model to scenes it never saw, scored on a held-out folder.

    .venv/bin/python benchmarks/probe_heldout.py --model CKPT --images DIR --gt DIR [--class-weights W,W,...]

For a model trained without some sequences (`segstudio train --val-sequences 0006R0`), scores its
predictions on those sequences' frames at native size (one confusion matrix over the folder, void
ignored) with each probe, against no change in the same run:
  scale1.25   one view at 1.25x the working scale;
  adabn       batch-norm statistics re-estimated on the folder's images (no labels), views and flips;
  logit-adj   subtract alpha x log(class weight) from the log-probabilities (alpha 0.5 and 1): undoes
              the prior a class-weighted loss adds (needs --class-weights, as the trainer printed them);
  gain/gamma/std  per-image exposure normalisation to a mean grey of 95 before the network.
Test-time augmentation has its own benchmark (bench_tta.py). The figures of 2026-11-28 are in
recipes/README.md. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.core.imageio import load_image, read_label_png  # noqa: E402
from segstudio.core.metrics import ConfusionMatrix  # noqa: E402
from segstudio.nets.evaluation import images_with_ground_truth  # noqa: E402
from segstudio.nets.predictor import Predictor  # noqa: E402


def scores(preds, gts, k: int) -> dict:
    """Figures of one confusion matrix over the folder (segstudio eval's), in percent."""
    cm = ConfusionMatrix(k)
    for p, g in zip(preds, gts):
        cm.update(g, p.astype(np.uint8))
    r = cm.scores()
    return {"pixel_accuracy": round(100 * r.pixel_accuracy, 2), "mean_accuracy": round(100 * r.mean_accuracy, 2),
            "mean_iou": round(100 * r.mean_iou, 2), "per_class_iou": [round(100 * float(x), 1) for x in r.iou]}


def exposure(img: np.ndarray, mode: str, target: float = 95.0) -> np.ndarray:
    f = img.astype(np.float32)
    if mode == "gain":
        f *= target / max(1.0, float(f.mean()))
    elif mode == "gamma":
        f = 255 * (f / 255) ** (np.log(target / 255) / np.log(max(1e-3, f.mean() / 255)))
    else:  # mean and contrast
        f = (f - f.mean()) / max(1.0, float(f.std())) * 62 + target
    return np.clip(f, 0, 255).astype(np.uint8)


def full_log_probs(pr: Predictor, img: np.ndarray, scale: float | None = None) -> np.ndarray:
    p = pr.predict_working_probs(img, scale=scale)
    h, w = img.shape[:2]
    return np.stack([cv2.resize(np.log(np.clip(c, 1e-8, 1)), (w, h), interpolation=cv2.INTER_LINEAR) for c in p])


def adabn(pr: Predictor, images) -> None:
    bns = [m for m in pr.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for b in bns:
        b.reset_running_stats()
        b.momentum = None  # a plain average over every image
        b.train()
    with torch.no_grad():
        for img in images:
            for view in (img, np.ascontiguousarray(img[:, ::-1])):
                pr.model(pr.preprocess([pr._to_working(view, None)]))
    for b in bns:
        b.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--class-weights", default=None, help="comma-separated, the training run's class weights")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    paths, gts_by_stem = images_with_ground_truth(args.images, args.gt)
    images = [load_image(p) for p in paths]
    gts = [read_label_png(gts_by_stem[p.stem]) for p in paths]
    pr = Predictor.from_checkpoint(args.model, device="cpu", backend="torch")
    k = pr.labelset.num_classes
    out: dict = {"model": args.model, "images": len(images)}

    def report(name, preds):
        out[name] = scores(preds, gts, k)
        r = out[name]
        print(f"{name:12s} G {r['pixel_accuracy']:5.1f}  C {r['mean_accuracy']:5.1f}  mIoU {r['mean_iou']:5.1f}  "
              f"per class {r['per_class_iou']}", flush=True)

    logp = [full_log_probs(pr, im) for im in images]
    report("none", [lp.argmax(0) for lp in logp])
    report("scale1.25", [full_log_probs(pr, im, pr.working_factor(im.shape[1], im.shape[0]) * 1.25).argmax(0)
                         for im in images])
    if args.class_weights:
        logw = np.log(np.array([float(x) for x in args.class_weights.split(",")], np.float32))[:, None, None]
        for alpha in (0.5, 1.0):
            report(f"logit-adj{alpha:g}", [(lp - alpha * logw).argmax(0) for lp in logp])
    for mode in ("gain", "gamma", "std"):
        report(mode, [pr.predict(exposure(im, mode)) for im in images])
    adabn(pr, images)
    report("adabn", [pr.predict(im) for im in images])
    for name in list(out):
        if isinstance(out[name], dict) and name != "none":
            out[f"{name}_miou_gain"] = round(out[name]["mean_iou"] - out["none"]["mean_iou"], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
