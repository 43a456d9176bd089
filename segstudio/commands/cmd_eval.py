"""`segstudio eval`: score predictions against a folder of ground-truth label PNGs.

Either a folder of predicted label PNGs (`--pred`, no torch needed) or a model
run on a folder of images (`--model NAME|PATH --images DIR`, the twin of the
studio's Tools → Evaluate dialog, through `nets.evaluation.evaluate_model`).
Both print the same table and write the same `--json` keys.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from segstudio.commands import arg_types
from segstudio.core.errors import SegstudioError
from segstudio.core.evaluate import evaluate_folders
from segstudio.core.labels import resolve_labelset


def add_arguments(p) -> None:
    p.add_argument("--pred", type=Path, help="folder of predicted label PNGs")
    p.add_argument("--model", help="instead of --pred: score this model (a name or a checkpoint path) "
                                   "on the images of --images")
    p.add_argument("--images", type=Path, help="with --model: folder of the images to predict")
    p.add_argument("--device", default="auto", help="with --model: auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--tta", choices=["flip", "flip+scales"], default=None,
                   help="with --model: test-time augmentation (averages mirrored / rescaled views; 2x / 6x time)")
    p.add_argument("--gt", required=True, type=Path, help="folder of ground-truth label PNGs")
    p.add_argument("--labels", required=True, help="label set: voc, camvid or a label-set file")
    p.add_argument("--json", type=Path, help="write the figures to this JSON file")
    p.add_argument("--allow-missing", action="store_true",
                   help="score the pairs found even if some files are missing or mismatched")
    p.add_argument("--workers", type=arg_types.count(1, 256, "workers"), default=None, help="decoding threads (default: 2 x cores, max 8)")


def _pct(v: float) -> str:
    return "   -  " if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:6.2f}"


def format_table(report: dict) -> str:
    width = max(10, *(len(c["name"]) for c in report["per_class"]))
    lines = [f"{'class':<{width}}  {'IoU %':>6}  {'acc %':>6}  {'GT px':>12}  {'pred px':>12}"]
    for c in report["per_class"]:
        lines.append(f"{c['name']:<{width}}  {_pct(c['iou'])}  {_pct(c['accuracy'])}  "
                     f"{c['gt_pixels']:>12,}  {c['pred_pixels']:>12,}")
    lines.append("")
    lines.append(f"images scored      {report['images']}")
    lines.append(f"pixel accuracy     {_pct(report['pixel_accuracy'])} %")
    lines.append(f"mean accuracy      {_pct(report['mean_accuracy'])} %")
    lines.append(f"mean IoU           {_pct(report['mean_iou'])} %")
    lines.append(f"frequency-w. IoU   {_pct(report['fw_iou'])} %")
    if report.get("invalid_predictions"):
        lines.append(f"predictions outside the class range: {report['invalid_predictions']:,} pixels (counted as errors)")
    return "\n".join(lines)


def _evaluate(args, labelset):
    if (args.pred is None) == (args.model is None):
        raise SegstudioError("give either --pred FOLDER or --model NAME|PATH with --images FOLDER")
    if args.pred is not None:
        return evaluate_folders(args.pred, args.gt, labelset, workers=args.workers), args.pred
    if args.images is None:
        raise SegstudioError("--model needs --images FOLDER (the images to predict)")
    from segstudio.nets.evaluation import evaluate_model

    return evaluate_model(args.model, args.images, args.gt, labelset, device=args.device, tta=args.tta), args.images


def run(args) -> int:
    labelset = resolve_labelset(args.labels)
    ev, source = _evaluate(args, labelset)
    problems = 0
    for stem in ev.missing:
        print(f"missing prediction: {stem}.png is in {args.gt} but not in {source}", file=sys.stderr)
        problems += 1
    for stem in ev.extra:
        print(f"extra prediction: {stem}.png has no ground truth in {args.gt} (not scored)", file=sys.stderr)
    for r in ev.failed:
        print(f"not scored: {r.error}", file=sys.stderr)
        problems += 1
    for line in ev.stray_lines():  # ground-truth values that are neither a class nor void: never silent
        print(f"warning: {line}", file=sys.stderr)
    report = ev.report()
    print(format_table(report))
    if args.json:
        from segstudio.core.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    if not ev.scored:
        print("segstudio eval: error: no image pairs could be scored", file=sys.stderr)
        return 1
    if problems and not args.allow_missing:
        print(f"segstudio eval: {problems} missing or mismatched file(s); use --allow-missing to accept",
              file=sys.stderr)
        return 1
    return 0
