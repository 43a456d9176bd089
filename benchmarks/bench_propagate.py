"""Benchmark: mask propagation between labelled video frames, against the model alone.

    .venv/bin/python benchmarks/bench_propagate.py --images DIR --gt DIR --labels L
        [--model NAME] [--gaps 2,4,8,16,30] [--limit N] [--ratios 1,2,4,8,inf] [--effort N] [--timing]

For every pair of labelled frames (a, b) of one sequence (core.video.sequences:
names that end in a frame number) whose numbers differ by a gap in --gaps, the
next frame b is started three ways and scored against its ground truth (pixel
accuracy over pixels whose ground truth is not void; mIoU from the confusion
matrix summed over all pairs of a gap, as `segstudio eval` does):
  model   the default model's prediction of b (what Predict gives);
  warped  the ground truth of a, warped to b by segstudio's propagation (DIS
          flow, forward-backward check); pixels that fail the check are
          unlabelled, so they count as wrong (the start without a model);
  warped, no check   the warp everywhere (for comparison);
  fused   core.assist.propagate.fuse: the warped label where the check passed;
          where it failed, the warped label unless the model prefers another
          class by more than the ratio (p(best) > ratio p(warped)); the model
          where there is no warped label. One row per --ratios.
This is the studio's Propagate (J) after the annotator finished frame a.

--effort N also runs benchmarks/bench_effort.py's simulated annotator (the same
costs, policy and toolset) on N pairs of the largest gap from each start, to
95 % pixel accuracy: the cost of correcting b from the model, from the warp, and
from the fusion at the default ratio.

--timing measures, with --threads OpenCV threads, wall and CPU time (the CPU
time does not grow when other processes share the cores): one propagation of a
1920x1080 frame pair (a CamVid pair upscaled), with the fusion against 11 model
planes at the model's working scale; and extraction of a synthetic 1080p mp4v
video (a noisy frame panning): decoding alone, and extraction (decoding, PNG
encoding on two threads, atomic writes) at PNG levels 1 and 0.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from segstudio.core.assist.propagate import MAX_SIDE, RATIO, fuse, propagate_labels  # noqa: E402
from segstudio.core.imageio import label_pngs, list_images, load_image, read_label_png  # noqa: E402
from segstudio.core.labels import resolve_labelset  # noqa: E402
from segstudio.core.metrics import confusion_for, scores_from_matrix  # noqa: E402
from segstudio.core.video import sequence_key, sequences  # noqa: E402


def pairs_by_gap(images: Path, gt: Path, gaps: list[int], limit: int | None) -> dict[int, list]:
    gts = label_pngs(gt)
    labelled = [p for p in list_images(images) if p.stem in gts]
    out: dict[int, list] = {g: [] for g in gaps}
    for seq in sequences(labelled):
        nums = {sequence_key(p)[1]: p for p in seq}
        for n, p in nums.items():
            for g in gaps:
                q = nums.get(n + g)
                if q is not None:
                    out[g].append((p, q, gts[p.stem], gts[q.stem]))
    for g, pairs in out.items():
        if limit and len(pairs) > limit:
            step = len(pairs) / limit  # spread over the sequences
            out[g] = [pairs[int(i * step)] for i in range(limit)]
    return out


class Frames:
    """Images, ground truth and model outputs, each computed once."""

    def __init__(self, predictor, ignore: int):
        from segstudio.nets.upsample import upsample

        self.predictor, self.ignore, self._up = predictor, ignore, upsample
        self._cache: dict = {}

    def get(self, path: Path, gt_path: Path):
        if path not in self._cache:
            image = load_image(path)
            gt = read_label_png(gt_path, expected_size=(image.shape[1], image.shape[0]))
            probs = self.predictor.predict_working_probs(image)
            pred = self._up(probs, *gt.shape)[0]
            self._cache = {k: v for k, v in list(self._cache.items())[-8:]}
            self._cache[path] = (image, gt, probs, pred)
        return self._cache[path]


def starts(frames: Frames, pair, ratios, max_side: int, preset: str):
    """{method: labels of b}, the consistent share, and the flow seconds."""
    a, b, ga, gb = pair
    img_a, gt_a, _, _ = frames.get(a, ga)
    img_b, gt_b, probs_b, pred_b = frames.get(b, gb)
    prop = propagate_labels(gt_a, img_a, img_b, frames.ignore, max_side=max_side, preset=preset)
    out = {"model": pred_b, "warped": prop.labels, "warped, no check": prop.warped}
    for r in ratios:
        out[f"fused r={r:g}"] = fuse(prop, probs_b, ratio=r)[0]
    return out, gt_b, float(prop.consistent[gt_b != frames.ignore].mean()), prop.seconds_flow


def accuracy_table(frames, pairs_gap, ratios, n_classes, args) -> dict:
    results = {}
    for gap, pairs in pairs_gap.items():
        if not pairs:
            continue
        mats: dict[str, np.ndarray] = {}
        per_pair: dict[str, list[float]] = {}
        cover, flow_s = [], []
        for pair in pairs:
            labels, gt, consistent, secs = starts(frames, pair, ratios, args.max_side, args.preset)
            cover.append(consistent)
            flow_s.append(secs)
            for k, v in labels.items():
                m = confusion_for(gt, v, n_classes)
                mats[k] = mats.get(k, 0) + m
                per_pair.setdefault(k, []).append(m.trace() / max(1, m.sum()))
        row = {k: {"pixel_accuracy": scores_from_matrix(m).pixel_accuracy, "miou": scores_from_matrix(m).mean_iou,
                   "beats_model_on_pairs": float(np.mean(np.array(per_pair[k]) > np.array(per_pair["model"])))}
               for k, m in mats.items()}
        results[gap] = {"pairs": len(pairs), "consistent_share": float(np.mean(cover)),
                        "flow_seconds_mean": float(np.mean(flow_s)), "methods": row}
        print(f"gap {gap} frames ({len(pairs)} pairs; the flow check passes on {np.mean(cover):.1%} of labelled "
              f"pixels):")
        for k, v in row.items():
            print(f"  {k:<14} pixel accuracy {v['pixel_accuracy']:.2%}  mIoU {v['miou']:.2%}  "
                  f"better than the model on {v['beats_model_on_pairs']:.0%} of pairs")
        sys.stdout.flush()
    return results


def effort(frames, pairs, n, ratio, args, labelset) -> dict:
    """bench_effort's annotator from the model's prediction, the warp and the fusion of b."""
    import bench_effort
    from effort_scene import Scene

    costs: dict[str, list[float]] = {"model": [], "warped": [], "fused": []}
    step = max(1, len(pairs) // n)
    for pair in pairs[::step][:n]:
        labels, gt, _, _ = starts(frames, pair, [ratio], args.max_side, args.preset)
        image, _, probs, _ = frames.get(pair[1], pair[3])
        scene = Scene(image, gt, labelset.ignore_index, frames.predictor, probs)
        line = []
        for key, start in (("model", labels["model"]), ("warped", labels["warped"]),
                           ("fused", labels[f"fused r={ratio:g}"])):
            r = bench_effort.annotate(scene, start, bench_effort.TOOLSET, 0.95, 400, 8)
            costs[key].append(r["cost"])
            line.append(f"{key} {r['cost']:.1f}{'' if r['reached'] else ' (not reached)'}")
        print(f"  effort to 95 % on {pair[1].name}: " + ", ".join(line), flush=True)
    out = {k: float(np.mean(v)) for k, v in costs.items()}
    out["fused_over_model"] = out["fused"] / max(out["model"], 1e-9)
    out["warped_over_model"] = out["warped"] / max(out["model"], 1e-9)
    out["pairs"] = len(costs["model"])
    print(f"effort means over {out['pairs']} pairs: model {out['model']:.1f}, warped {out['warped']:.1f}, fused "
          f"{out['fused']:.1f} ({out['fused_over_model']:.2f}x the model's)", flush=True)
    return out


def timed(fn):
    """(result, wall seconds, CPU seconds of this process, all threads)."""
    t, c = time.perf_counter(), time.process_time()
    r = fn()
    return r, time.perf_counter() - t, time.process_time() - c


def timing(frames, pair, args) -> dict:
    """Wall and CPU seconds: on a shared machine the wall time grows with the load, the CPU time does not;
    on `--threads` idle cores the wall time lies between CPU / threads and CPU."""
    a, b, ga, gb = pair
    img_a, gt_a, _, _ = frames.get(a, ga)
    img_b, _, probs_b, _ = frames.get(b, gb)
    big = (1920, 1080)
    A, B = cv2.resize(img_a, big), cv2.resize(img_b, big)
    L = cv2.resize(gt_a, big, interpolation=cv2.INTER_NEAREST)
    runs = [timed(lambda: fuse(propagate_labels(L, A, B, frames.ignore, max_side=args.max_side,
                                                preset=args.preset), probs_b)) for _ in range(3)]
    out = {"load_average": os.getloadavg()[0], "propagate_1080p_wall_s": min(r[1] for r in runs),
           "propagate_1080p_cpu_s": min(r[2] for r in runs)}
    for level in (1, 0):
        out.update({f"{k}_png{level}": v for k, v in extraction_speed(B, args.video_frames, level).items()})
    print(f"load average {out['load_average']:.1f} on this machine during the timing")
    print(f"1080p propagate + fuse: {out['propagate_1080p_cpu_s']:.3f} CPU s "
          f"({out['propagate_1080p_wall_s']:.3f} s wall)")
    for level in (1, 0):
        o = {k[:-5]: v for k, v in out.items() if k.endswith(f"_png{level}")}
        print(f"1080p video, PNG level {level}: decode {o['decode_cpu_ms']:.1f} CPU ms/frame "
              f"({1000 / o['decode_cpu_ms']:.0f} frames/s on one idle core; {o['decode_fps']:.0f}/s wall here), "
              f"extraction {o['extract_cpu_ms']:.1f} CPU ms/frame ({o['extract_fps']:.1f}/s wall here), "
              f"{o['png_mb']:.1f} MB/frame", flush=True)
    return out


def extraction_speed(frame_rgb: np.ndarray, n: int, level: int) -> dict:
    from segstudio.core.video import extract_frames

    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        video = Path(tmp) / "drive.mp4"
        w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30, frame_rgb.shape[1::-1])
        base = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)
        noise = np.random.default_rng(0).normal(0, 3, base.shape)  # a camera's noise: PNGs compress as they would
        base = np.clip(base + noise, 0, 255).astype(np.uint8)
        for i in range(n):
            w.write(np.roll(base, 8 * i, axis=1))  # a camera panning 8 px per frame
        w.release()

        def decode():
            cap, k = cv2.VideoCapture(str(video)), 0
            while cap.grab():
                cap.retrieve()
                k += 1
            cap.release()
            return k

        read, decode_s, decode_cpu = timed(decode)
        r, extract_s, extract_cpu = timed(lambda: extract_frames(video, Path(tmp) / "frames", every=1,
                                                                  compress_level=level))
        mb = sum(p.stat().st_size for p in r.paths) / len(r.paths) / 1e6
    return {"decode_fps": read / decode_s, "decode_cpu_ms": 1000 * decode_cpu / read,
            "extract_fps": len(r.paths) / extract_s, "extract_cpu_ms": 1000 * extract_cpu / len(r.paths),
            "png_mb": mb}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--model", default=None, help="model name or path (default: the default model)")
    ap.add_argument("--gaps", default="2,4,8,16,30", help="frame-number gaps between the two frames of a pair")
    ap.add_argument("--limit", type=int, default=None, help="at most N pairs per gap, spread over the sequences")
    ap.add_argument("--ratios", default="1,2,4,8,16,inf", help="fusion ratios to score")
    ap.add_argument("--max-side", type=int, default=MAX_SIDE)
    ap.add_argument("--preset", default="medium", choices=("ultrafast", "fast", "medium"))
    ap.add_argument("--effort", type=int, default=0, help="run the simulated annotator on N pairs of the largest gap")
    ap.add_argument("--timing", action="store_true", help="time 1080p propagation and video extraction")
    ap.add_argument("--video-frames", type=int, default=90, help="frames of the synthetic 1080p video")
    ap.add_argument("--threads", type=int, default=2, help="OpenCV and torch threads")
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    cv2.setNumThreads(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    from segstudio.nets.checkpoint import DEFAULT_MODEL_NAME
    from segstudio.nets.predictor import Predictor

    labelset = resolve_labelset(args.labels)
    model = args.model or DEFAULT_MODEL_NAME
    frames = Frames(Predictor.from_checkpoint(model, device="cpu"), labelset.ignore_index)
    gaps = [int(g) for g in args.gaps.split(",")]
    ratios = [math.inf if r == "inf" else float(r) for r in args.ratios.split(",")]
    print(f"model {model}; flow: DIS {args.preset} at long side {args.max_side}; {args.threads} threads")
    t0 = time.perf_counter()
    pairs = pairs_by_gap(args.images, args.gt, gaps, args.limit)
    out = {"images": str(args.images), "model": model, "default_ratio": RATIO,
           "gaps": accuracy_table(frames, pairs, ratios, labelset.num_classes, args)}
    biggest = max((g for g in gaps if pairs.get(g)), default=None)
    if args.effort and biggest is not None:
        out["effort_gap"] = biggest
        out["effort"] = effort(frames, pairs[biggest], args.effort, RATIO, args, labelset)
    if args.timing and biggest is not None:
        out["timing"] = timing(frames, pairs[biggest][0], args)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else v))


if __name__ == "__main__":
    main()
