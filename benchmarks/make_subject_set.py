"""Make a "subject vs background" few-shot set from CamVid, for bench_fewshot.py.

The stand-in for "20 photos of a subject the project never saw": one CamVid class (car by
default) against everything else, void kept as ignore (255). Training: --n frames spread
evenly over the training sequences other than --test-sequence; test: all training frames of
--test-sequence (0006R0: 101 frames). Images are symlinked, masks written as palette PNGs;
a class-names file (`background`, the class) goes beside them.

    .venv/bin/python benchmarks/make_subject_set.py --camvid ../shared/datasets/camvid --out /tmp/car
    .venv/bin/python benchmarks/bench_fewshot.py --images /tmp/car/train/img --masks /tmp/car/train/mask \
        --labels /tmp/car/car.txt --train-n 20 --minutes 10 --baseline-n none \
        --test-images /tmp/car/test/img --test-masks /tmp/car/test/mask

Last line: one JSON object (the counts and the subject's pixel share).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

CAMVID = ("sky", "building", "pole", "road", "pavement", "tree", "signsymbol", "fence", "car", "pedestrian",
          "bicyclist")
VOID = 11


def convert(image: Path, mask: Path, out: Path, cls: int) -> float:
    """Symlink the image, write the binary mask; the subject's share of the frame."""
    m = np.array(Image.open(mask))
    b = np.where(m == VOID, 255, (m == cls).astype(np.uint8)).astype(np.uint8)
    png = Image.fromarray(b, "P")
    png.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 253 + [255, 255, 255])
    png.save(out / "mask" / f"{mask.stem}.png")
    link = out / "img" / image.name
    if not link.exists():
        link.symlink_to(image.resolve())
    return float((b == 1).mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--camvid", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="a new folder")
    ap.add_argument("--subject", default="car", choices=CAMVID)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--test-sequence", default="0006R0")
    args = ap.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        ap.error(f"{args.out} is not empty: give a new folder")
    cls = CAMVID.index(args.subject)
    frames = sorted((args.camvid / "train").glob("*.png"))
    pool = [p for p in frames if not p.name.startswith(args.test_sequence)]
    test = [p for p in frames if p.name.startswith(args.test_sequence)]
    picked = [pool[int(i)] for i in np.linspace(0, len(pool) - 1, args.n)]
    shares = {}
    for split, items in (("train", picked), ("test", test)):
        (args.out / split / "img").mkdir(parents=True)
        (args.out / split / "mask").mkdir()
        shares[split] = [convert(p, args.camvid / "trainannot" / p.name, args.out / split, cls) for p in items]
    (args.out / f"{args.subject}.txt").write_text(f"background\n{args.subject}\n")
    print(json.dumps({"subject": args.subject, "train": len(picked), "test": len(test),
                      "test_frames_with_subject": round(float(np.mean(np.array(shares["test"]) > 0.001)), 3),
                      "test_subject_share": round(float(np.mean(shares["test"])), 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
