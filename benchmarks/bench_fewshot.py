"""Benchmark: a model of your own from N annotated images in M minutes on the CPU.

For each N of --train-n, the first N images (sorted by name: a sequence's frames in order,
or whatever the folder holds) train a model with `segstudio train`'s defaults (no --arch:
FCN-8s on the ImageNet-pretrained EfficientNet-Lite0 encoder) for --minutes, and the model
is scored with `segstudio eval --model`'s code on the test images (--test-images/--test-masks,
else the images not used for training). The baseline, in the same run and with the same
budget, is the same network from random weights (--pretrained none), so the ratio is what
the ImageNet start buys.

    .venv/bin/python benchmarks/bench_fewshot.py --images ../shared/datasets/camvid/train \
        --masks ../shared/datasets/camvid/trainannot --labels camvid --prefix 0001TP \
        --train-n 5,10,20,40 --minutes 3 \
        --test-images /tmp/0006R0/img --test-masks /tmp/0006R0/mask

`--prefix` keeps the training images whose names start with it (one CamVid sequence).
Each row has the per-class IoU too (printed for two- or three-class sets: the object's IoU
of a "subject vs background" set). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.core.imageio import list_images  # noqa: E402
from segstudio.core.labels import resolve_labelset  # noqa: E402
from segstudio.nets import DEFAULT_ARCH  # noqa: E402
from segstudio.nets.evaluation import evaluate_model  # noqa: E402
from segstudio.nets.predictor import Predictor  # noqa: E402
from segstudio.nets.train_config import TrainConfig, arch_defaults  # noqa: E402
from segstudio.nets.trainer import Trainer  # noqa: E402


def link_subset(images: list[Path], masks_dir: Path, dest: Path) -> tuple[Path, Path]:
    img_dir, mask_dir = dest / "images", dest / "masks"
    img_dir.mkdir(parents=True)
    mask_dir.mkdir()
    for p in images:
        (img_dir / p.name).symlink_to(p.resolve())
        (mask_dir / f"{p.stem}.png").symlink_to((masks_dir / f"{p.stem}.png").resolve())
    return img_dir, mask_dir


def train_and_score(images, masks_dir, labels, minutes, pretrained, threads, test_images, test_masks, work,
                    overrides=None):
    img_dir, mask_dir = link_subset(images, masks_dir, work / "data")
    cfg = TrainConfig().updated(arch_defaults(DEFAULT_ARCH), "defaults").updated(dict(
        arch=DEFAULT_ARCH, images=str(img_dir), masks=str(mask_dir), labels=labels, max_minutes=minutes,
        pretrained=pretrained, threads=threads, out=str(work / "run"), name="fewshot"), "bench") \
        .updated(overrides or {}, "bench options")
    t = time.monotonic()
    result = Trainer(cfg).run()
    train_min = (time.monotonic() - t) / 60
    predictor = Predictor.from_checkpoint(result.best_path or result.last_path, device="cpu", backend="torch")
    test_dir = Path(test_images)
    if test_masks is None:  # score the images the run did not train on
        test_dir = work / "test"
        test_dir.mkdir()
        used = {p.name for p in images}
        for p in list_images(Path(images[0]).parent):
            if p.name not in used:
                (test_dir / p.name).symlink_to(p.resolve())
        test_masks = masks_dir
    s = evaluate_model(predictor, test_dir, test_masks).scores()
    names = resolve_labelset(labels).names
    return {"minutes": round(train_min, 2), "epochs": result.epochs_done, "mean_iou": round(100 * s.mean_iou, 2),
            "pixel_accuracy": round(100 * s.pixel_accuracy, 2),
            "class_iou": {n: round(100 * float(v), 2) for n, v in zip(names, s.iou) if v == v}}


def overrides(args) -> dict:
    out = {} if args.epochs is None else {"epochs": args.epochs}
    if args.arch_options:
        out["arch_options"] = args.arch_options
    if args.encoder_lr_mult is not None:
        out["encoder_lr_mult"] = args.encoder_lr_mult
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", required=True)
    ap.add_argument("--masks", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--prefix", default="", help="train only on images whose names start with this")
    ap.add_argument("--train-n", default="5,10,20,40")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--test-images")
    ap.add_argument("--test-masks")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None, help="most epochs (default: the recipe's)")
    ap.add_argument("--arch-options", type=json.loads, default=None, help='e.g. \'{"skip4": true}\'')
    ap.add_argument("--encoder-lr-mult", type=float, default=None, help="default: the recipe's")
    ap.add_argument("--baseline-n", default=None,
                    help="the N values that also train the random-weights baseline (default: all; 'none': no baseline)")
    args = ap.parse_args(argv)
    resolve_labelset(args.labels)  # a bad label set fails here, not after the first training
    pool = [p for p in list_images(Path(args.images)) if p.name.startswith(args.prefix)]
    rows = []
    for n in (int(v) for v in args.train_n.split(",")):
        if n > len(pool):
            print(f"N={n}: only {len(pool)} images, skipped")
            continue
        row = {"n": n}
        for kind, pretrained in (("imagenet", "imagenet"), ("scratch", "none")):
            if kind == "scratch" and args.baseline_n is not None and str(n) not in args.baseline_n.split(","):
                continue
            with tempfile.TemporaryDirectory() as tmp:
                row[kind] = train_and_score(pool[:n], Path(args.masks), args.labels, args.minutes, pretrained,
                                            args.threads, args.test_images, args.test_masks, Path(tmp),
                                            overrides(args))
            r = row[kind]
            few = "  ".join(f"{k} {v:.1f}" for k, v in r["class_iou"].items()) if len(r["class_iou"]) <= 3 else ""
            print(f"N={n:3d} {kind:8s} {r['minutes']:5.2f} min, {r['epochs']:3d} epochs: "
                  f"mIoU {r['mean_iou']:5.1f}  pixel acc {r['pixel_accuracy']:5.1f}  {few}", flush=True)
        if "scratch" in row:
            row["miou_ratio"] = round(row["imagenet"]["mean_iou"] / max(1e-9, row["scratch"]["mean_iou"]), 2)
            print(f"N={n:3d} ImageNet start / random start: {row['miou_ratio']:.2f}x mIoU")
        rows.append(row)
    print(json.dumps({"bench": "fewshot", "arch": DEFAULT_ARCH, "minutes": args.minutes, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
