"""Benchmark: predicting a 6000x4000 photo at the scale the model learned (issue 12 item 5).

A bundled CamVid frame (480x360) is upscaled to 6000x4000 (a 24 Mpx photo) and predicted
with the default SegNet-Basic:
  - working scale: the card's input.train_short_side (180 px for a model trained at half
    CamVid size; injected for a card that lacks it) -> the network sees 270x180, the class
    probabilities are upsampled to 6000x4000 class by class;
  - with --baseline, the old fixed input.resize = 0.5 as well (the network sees 3000x2000,
    in tiles: about a minute and 1.7 GB on 2 cores).
Also reports the agreement of the 6000x4000 labels (brought back to 480x360, nearest) with
the native-size prediction. Target: <= 5 s on 2 cores. The last line is one JSON object.

    .venv/bin/python benchmarks/bench_scale.py [--threads 2] [--baseline]
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import sys
import time
from pathlib import Path

import cv2
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.core.imageio import load_image  # noqa: E402
from segstudio.nets.checkpoint import load_checkpoint  # noqa: E402
from segstudio.nets.predictor import Predictor  # noqa: E402
from segstudio.paths import DATA_DIR  # noqa: E402


def timed(p: Predictor, image, repeats: int):
    best, labels = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        labels = p.predict(image)
        best = min(best, time.perf_counter() - t)
    return best, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--baseline", action="store_true", help="also time the old fixed input.resize path (slow)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, card = load_checkpoint(DATA_DIR / "models" / "segnet-basic-camvid.safetensors")
    card = copy.deepcopy(card)
    injected = "train_short_side" not in card["input"]
    card["input"].setdefault("train_short_side", 180)
    frame = load_image(sorted((DATA_DIR / "samples").glob("*.png"))[0])
    h, w = frame.shape[:2]
    big = cv2.resize(frame, (6000, 4000), interpolation=cv2.INTER_CUBIC)
    p = Predictor(model, card, device="cpu")
    native = p.predict(frame)
    secs, labels = timed(p, big, args.repeats)
    agree = float((cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST) == native).mean())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"6000x4000 at the working scale (short side {card['input']['train_short_side']} px"
          f"{', injected' if injected else ''}): {secs:.2f} s, agreement with native {100 * agree:.1f} %, "
          f"peak RSS {rss:.0f} MB")
    out = {"threads": args.threads, "image": "6000x4000", "working_scale_s": round(secs, 3),
           "agreement_with_native": round(agree, 4), "peak_rss_mb": round(rss), "target_s": 5.0,
           "train_short_side_injected": injected}
    if args.baseline:
        old = copy.deepcopy(card)
        old["input"].pop("train_short_side")
        q = Predictor(model, old, device="cpu")
        t_old, lab_old = timed(q, big, 1)
        agree_old = float((cv2.resize(lab_old, (w, h), interpolation=cv2.INTER_NEAREST) == native).mean())
        print(f"6000x4000 with input.resize {old['input'].get('resize', 1.0)}: {t_old:.2f} s, "
              f"agreement with native {100 * agree_old:.1f} %  (working scale x{t_old / secs:.1f} faster)")
        out.update(baseline_s=round(t_old, 3), baseline_agreement=round(agree_old, 4),
                   speedup=round(t_old / secs, 2))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
