"""Benchmark: test-time augmentation (Predictor.tta) against one view, on a folder with ground truth.

    .venv/bin/python benchmarks/bench_tta.py --images DIR --gt DIR [--model NAME|PATH] [--threads 2] [--limit N]

Scores the model (default: the default model) with each setting of `--tta`: off (one
view, the baseline of the same run), flip (the image and its mirror image) and
flip+scales (those at 0.75, 1 and 1.25 of the working scale): pixel accuracy, class
accuracy and mIoU by `segstudio eval --model`'s code, and seconds per image (torch
backend on the CPU, so every setting runs the same engine). Run it on frames of a
sequence the model never saw in training to see what the views buy on new scenes, and
on the standard val. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.nets.checkpoint import DEFAULT_MODEL_NAME  # noqa: E402
from segstudio.nets.evaluation import evaluate_predictor, images_with_ground_truth  # noqa: E402
from segstudio.nets.predictor import TTA_VIEWS, Predictor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--model", default=DEFAULT_MODEL_NAME)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="the first N images only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    images, gts = images_with_ground_truth(args.images, args.gt)
    images = images[: args.limit] if args.limit else images
    predictor = Predictor.from_checkpoint(args.model, device="cpu", backend="torch")
    out: dict = {"model": str(args.model), "images": len(images), "threads": args.threads}
    if images:  # warm up (first-call allocations) outside the timings
        from segstudio.core.imageio import load_image

        predictor.predict(load_image(images[0]))
    for tta in (None, *TTA_VIEWS):
        predictor.tta = tta
        t0 = time.perf_counter()
        ev = evaluate_predictor(predictor, images, gts, predictor.labelset)
        seconds = (time.perf_counter() - t0) / max(1, len(images))
        r = ev.report()
        name = tta or "off"
        out[name] = {"pixel_accuracy": round(100 * r["pixel_accuracy"], 2),
                     "mean_accuracy": round(100 * r["mean_accuracy"], 2),
                     "mean_iou": round(100 * r["mean_iou"], 2), "seconds_per_image": round(seconds, 3)}
        print(f"{name:12s} G {out[name]['pixel_accuracy']:5.1f}  C {out[name]['mean_accuracy']:5.1f}  "
              f"mIoU {out[name]['mean_iou']:5.1f}  {seconds:.3f} s/image", flush=True)
    for name in TTA_VIEWS:
        out[f"{name}_miou_gain"] = round(out[name]["mean_iou"] - out["off"]["mean_iou"], 2)
        out[f"{name}_time_ratio"] = round(out[name]["seconds_per_image"] / out["off"]["seconds_per_image"], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
