"""Turn a trained checkpoint into a shipped model: measure, choose fp16 or fp32, write segstudio/data/models/NAME.*.

    .venv/bin/python models/make_release.py runs/sb/segnet-basic-camvid.safetensors \
        --images ../shared/datasets/camvid/val --gt ../shared/datasets/camvid/valannot

Predicts the validation images at their native resolution with fp32 and with
fp16-stored weights, scores both with `nets.evaluation.evaluate_model` (the
code behind `segstudio eval --model` and the studio's eval dialog), and ships fp16 only if no headline figure moves by more than
--tolerance percentage points. The model card gains an `evaluation` block with
both sets of figures and the label agreement between them.

CamVid's val split shares sequence 0016E5 with train, so it measures memory of that street more than
generalisation. `--holdout RUN_CHECKPOINT --holdout-images DIR --holdout-gt DIR` scores a model trained
with the same recipe but without a whole sequence (`segstudio train --val-sequences 0006R0`) on that
sequence's frames, and records it in the card's `generalisation` block.

Paths are written relative to the data set (`camvid/val`), never as the absolute paths of this machine:
`portable_card` also cleans cards written before the trainer did so itself.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.nets.checkpoint import load_checkpoint, read_card, save_checkpoint  # noqa: E402
from segstudio.nets.evaluation import evaluate_model  # noqa: E402
from segstudio.nets.predictor import Predictor  # noqa: E402
from segstudio.nets.train_checkpoints import portable_recipe  # noqa: E402

HEADLINE = ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou")


def evaluate(weights: Path, images_dir: Path, gt_dir: Path) -> tuple[dict, dict[str, np.ndarray], int]:
    """(headline figures and per-class IoU, predictions by stem, images scored) of one checkpoint on the CPU."""
    preds: dict[str, np.ndarray] = {}
    # torch: the release's figures are the reference implementation's, and no background ONNX
    # export is started for the temporary fp32/fp16 checkpoints.
    predictor = Predictor.from_checkpoint(weights, device="cpu", backend="torch")
    ev = evaluate_model(predictor, images_dir, gt_dir,
                        on_labels=lambda path, labels: preds.__setitem__(path.stem, labels))
    if ev.failed:
        raise SystemExit("\n".join(f"not scored: {r.error}" for r in ev.failed))
    scores = ev.report()
    per_class = {c["name"]: c["iou"] for c in scores["per_class"]}
    return ({k: scores[k] for k in HEADLINE} | {"per_class_iou": per_class, "predicted_over_true": bias(ev)},
            preds, len(ev.scored))


def bias(ev) -> dict[str, float]:
    """Per class, predicted pixels / true pixels (void excluded): > 1 is a class the model over-predicts."""
    m = ev.total.matrix[:, : ev.total.num_classes]
    true, predicted = m.sum(axis=1), m.sum(axis=0)
    return {name: round(float(p / t), 3) for name, p, t in zip(ev.labelset.names, predicted, true) if t}


def portable_path(text: str) -> str:
    """A data path as its data set's relative name: ".../datasets/camvid/val" -> "camvid/val"."""
    text = str(text).replace("\\", "/")
    m = re.search(r"datasets/(.+)$", text)
    return m.group(1) if m else (Path(text).name if "/" in text else text)


def portable_card(card: dict) -> dict:
    """The card without the absolute paths of the machine that trained or measured it."""
    training = card.get("training") or {}
    if isinstance(training.get("recipe"), dict):
        training["recipe"] = portable_recipe(training["recipe"])
    data = training.get("data")
    if isinstance(data, dict) and isinstance(data.get("source"), str):
        data["source"] = re.sub(r"\S*/", "", data["source"], count=1)
    for block in (card.get("evaluation"), card.get("generalisation")):
        if isinstance(block, dict):
            if isinstance(block.get("source"), str):
                block["source"] = portable_path(block["source"])
            if isinstance(block.get("command"), str):
                block["command"] = re.sub(r"\S*/datasets/", "DATASETS/", block["command"])
    return card


def _recorded_args(argv: list[str]) -> list[str]:
    """The command line as the card records it: without --out (where this machine wrote the release)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--out":
            skip = True
        elif not a.startswith("--out="):
            out.append(a)
    return out


def holdout_block(args) -> dict | None:
    """Figures of the hold-out run's checkpoint on the sequence it never saw, at native resolution."""
    if not args.holdout:
        return None
    hcard = read_card(args.holdout)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.holdout
        if args.train_short_side:  # scored at the working scale the shipped model will use
            model, card = load_checkpoint(args.holdout)
            card["input"]["train_short_side"] = args.train_short_side
            weights = save_checkpoint(Path(tmp) / card["name"], model, card)
        scores, _, n = evaluate(weights, args.holdout_images, args.holdout_gt)
    hdata = (hcard.get("training") or {}).get("data") or {}
    return {"split": hdata.get("val_split", "held-out sequences"), "images": n,
            "source": portable_path(args.holdout_images),
            "model": "same recipe, trained without the held-out sequences",
            "train_images": hdata.get("train_images"), "file_list_sha256": hdata.get("file_list_sha256"),
            "resolution": "native", **scores}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--images", type=Path, required=True, help="validation images")
    ap.add_argument("--gt", type=Path, required=True, help="their ground-truth label PNGs")
    ap.add_argument("--out", type=Path, default=REPO / "segstudio" / "data" / "models")
    ap.add_argument("--name", help="model name (default: the card's)")
    ap.add_argument("--tolerance", type=float, default=0.05, help="percentage points")
    ap.add_argument("--holdout", type=Path, help="checkpoint of the same recipe trained without some sequences")
    ap.add_argument("--holdout-images", type=Path, help="the held-out sequences' images")
    ap.add_argument("--holdout-gt", type=Path, help="their ground-truth label PNGs")
    ap.add_argument("--description", help="replace the card's description")
    ap.add_argument("--procedure", help="how the checkpoint was trained, in words (card training.procedure)")
    ap.add_argument("--train-short-side", type=int,
                    help="set the card's input.train_short_side (the working scale), e.g. one measured better")
    args = ap.parse_args()

    model, card = load_checkpoint(args.checkpoint)
    if args.train_short_side:
        card["input"]["train_short_side"] = args.train_short_side
    name = args.name or card["name"]
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = save_checkpoint(Path(tmp) / "fp32" / name, model, card)
        fp16 = save_checkpoint(Path(tmp) / "fp16" / name, model, card, half=True)
        s32, p32, n_images = evaluate(fp32, args.images, args.gt)
        s16, p16, _ = evaluate(fp16, args.images, args.gt)
    agree = sum(int((p32[s] == p16[s]).sum()) for s in p32) / sum(a.size for a in p32.values())
    delta = {k: round(100 * (s16[k] - s32[k]), 4) for k in HEADLINE}
    half = all(abs(v) <= args.tolerance for v in delta.values())
    held_out = holdout_block(args)
    if held_out:
        card["generalisation"] = held_out
    if not card.get("metrics"):  # trained without a validation split: the card's figures are these
        card["metrics"] = {**{k: s16[k] for k in HEADLINE}, "split": "val (part of the training data)",
                           "images": n_images, "resolution": "native"}
    if args.description:
        card["description"] = args.description
    if args.procedure:
        card.setdefault("training", {})["procedure"] = args.procedure
    card["evaluation"] = {
        "split": "validation", "images": n_images, "source": portable_path(args.images),
        "resolution": "native (the predictor resizes by input.resize and upsamples back)",
        "fp32": s32, "fp16": s16, "fp16_minus_fp32_points": delta, "fp16_label_agreement": agree,
        "shipped_weights": "float16" if half else "float32",
        "command": "models/make_release.py " + " ".join(_recorded_args(sys.argv[1:])),
    }
    out = save_checkpoint(args.out / name, model, portable_card(card), half=half)
    for k in HEADLINE:
        print(f"{k:15s} fp32 {100 * s32[k]:6.2f}  fp16 {100 * s16[k]:6.2f}  ({delta[k]:+.4f} points)")
    if held_out:
        print(f"held out ({held_out['split']}): G {100 * held_out['pixel_accuracy']:.2f} "
              f"C {100 * held_out['mean_accuracy']:.2f} mIoU {100 * held_out['mean_iou']:.2f}")
    print(f"fp16 / fp32 label agreement {100 * agree:.3f} %; shipped {card['evaluation']['shipped_weights']}: {out} "
          f"({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
