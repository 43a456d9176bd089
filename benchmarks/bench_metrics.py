"""Benchmark: confusion-matrix accumulation and `segstudio eval` end to end.

Reads CamVid val labels from ../shared/datasets/camvid (or --camvid DIR),
makes synthetic predictions (80 % correct, the rest random classes), and
times, in one run and on the same arrays:
  - segstudio.core.metrics.ConfusionMatrix.update_many on all cores (how
    `segstudio eval` accumulates a data set) and .update on one thread
  - sklearn.metrics.confusion_matrix (the common baseline)
  - int64 np.bincount(n * gt + pred)
  - segstudio.core.label_decode.pair_counts on one thread: the Pillow-only
    counting `segstudio eval` uses for plain 8-bit PNGs (no NumPy, no OpenCV)
and then `segstudio eval` as a subprocess on the 101 label files (wall and CPU
time, Python start-up included). Targets (2-core machine): >= 30x sklearn,
>= 8x the int64 bincount, eval <= 0.4 s (issue 15). The last line is one JSON
object.

    .venv/bin/python benchmarks/bench_metrics.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.core.imageio import write_label_png  # noqa: E402
from segstudio.core.label_decode import pair_counts  # noqa: E402
from segstudio.core.labels import preset  # noqa: E402
from segstudio.core.metrics import ConfusionMatrix  # noqa: E402


def best_of(fn, repeats):
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--camvid", type=Path, default=REPO.parent / "shared" / "datasets" / "camvid")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    ls = preset("camvid")
    n = ls.num_classes
    files = sorted((args.camvid / "valannot").glob("*.png"))
    if not files:
        sys.exit(f"no label files in {args.camvid / 'valannot'}")
    gts = [np.asarray(Image.open(f)) for f in files]
    rng = np.random.default_rng(0)
    preds = [np.where(rng.random(g.shape) < 0.8, np.minimum(g, n - 1), rng.integers(0, n, g.shape)).astype(np.uint8)
             for g in gts]
    pixels = sum(g.size for g in gts)

    def ours():
        cm = ConfusionMatrix(n)
        cm.update_many(zip(gts, preds))
        return cm.confusion.copy()

    def ours_one_thread():
        cm = ConfusionMatrix(n)
        for g, p in zip(gts, preds):
            cm.update(g, p)
        return cm.confusion.copy()

    def bincount64():
        cm = np.zeros((n, n), np.int64)
        for g, p in zip(gts, preds):
            g64 = g.astype(np.int64).ravel()
            p64 = p.astype(np.int64).ravel()
            keep = g64 < n
            cm += np.bincount(n * g64[keep] + p64[keep], minlength=n * n).reshape(n, n)
        return cm

    gt_images = [Image.fromarray(g, "L") for g in gts]
    pred_images = [Image.fromarray(p, "L") for p in preds]

    def pillow_one_thread():
        cm = np.zeros((n, n + 1), np.int64)
        for g, p in zip(gt_images, pred_images):
            cm += np.asarray(pair_counts(g, p, ls)[0], np.int64)
        return cm[:, :n]

    from sklearn.metrics import confusion_matrix

    labels = list(range(n))

    def sklearn():
        cm = np.zeros((n, n), np.int64)
        for g, p in zip(gts, preds):
            keep = g < n
            cm += confusion_matrix(g[keep], p[keep], labels=labels)
        return cm

    t_ours, r_ours = best_of(ours, args.repeats)
    t_one, r_one = best_of(ours_one_thread, args.repeats)
    t_bc, r_bc = best_of(bincount64, args.repeats)
    t_sk, r_sk = best_of(sklearn, max(1, args.repeats // 2))
    t_pil, r_pil = best_of(pillow_one_thread, args.repeats)
    assert (r_ours == r_bc).all() and (r_ours == r_sk).all() and (r_one == r_ours).all() and (r_pil == r_ours).all(), \
        "confusion matrices disagree"
    print(f"confusion matrix over {len(files)} CamVid val labels ({pixels / 1e6:.1f} Mpx), best of {args.repeats}:")
    cores = os.cpu_count()
    print(f"  segstudio, {cores} threads {t_ours * 1e3:8.1f} ms  ({pixels / t_ours / 1e6:5.0f} Mpx/s)")
    print(f"  segstudio, 1 thread   {t_one * 1e3:8.1f} ms  ({pixels / t_one / 1e6:5.0f} Mpx/s)")
    print(f"  np.bincount int64     {t_bc * 1e3:8.1f} ms  -> segstudio is {t_bc / t_ours:5.1f}x faster "
          f"({t_bc / t_one:.1f}x on one thread)")
    print(f"  sklearn               {t_sk * 1e3:8.1f} ms  -> segstudio is {t_sk / t_ours:5.1f}x faster "
          f"({t_sk / t_one:.1f}x on one thread)")
    print(f"  Pillow, 1 thread      {t_pil * 1e3:8.1f} ms  (eval's NumPy-free counting; "
          f"{t_pil / t_one:.1f}x the OpenCV thread's time)")

    with tempfile.TemporaryDirectory() as tmp:
        pred_dir = Path(tmp) / "pred"
        pred_dir.mkdir()
        for f, p in zip(files, preds):
            write_label_png(pred_dir / f.name, p, ls)
        cmd = [sys.executable, "-m", "segstudio", "eval", "--pred", str(pred_dir), "--gt",
               str(args.camvid / "valannot"), "--labels", "camvid", "--json", str(Path(tmp) / "r.json")]
        walls, cpus = [], []
        for _ in range(3):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
            walls.append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
        report = json.loads((Path(tmp) / "r.json").read_text())
    assert report["images"] == len(files)
    eval_wall, eval_cpu = statistics.median(walls), statistics.median(cpus)
    print(f"segstudio eval on {len(files)} files: median {eval_wall:.2f} s wall, {eval_cpu:.2f} s CPU of 3 runs "
          f"({', '.join(f'{w:.2f}' for w in walls)}), mIoU {report['mean_iou']:.4f}")

    result = {
        "images": len(files),
        "megapixels": round(pixels / 1e6, 2),
        "cores": cores,
        "segstudio_ms": round(t_ours * 1e3, 2),
        "segstudio_one_thread_ms": round(t_one * 1e3, 2),
        "bincount_int64_ms": round(t_bc * 1e3, 2),
        "sklearn_ms": round(t_sk * 1e3, 2),
        "pillow_one_thread_ms": round(t_pil * 1e3, 2),
        "speedup_vs_bincount": round(t_bc / t_ours, 1),
        "speedup_vs_sklearn": round(t_sk / t_ours, 1),
        "one_thread_speedup_vs_bincount": round(t_bc / t_one, 1),
        "one_thread_speedup_vs_sklearn": round(t_sk / t_one, 1),
        "eval_wall_s": round(eval_wall, 3),
        "eval_cpu_s": round(eval_cpu, 3),
        "targets_met": bool(t_bc / t_ours >= 8 and t_sk / t_ours >= 30 and eval_wall <= 0.4),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
