"""Benchmark: CPU training throughput (images/s) of SegNet-Basic, FCN-8s width 0.3 and fcn8s-lite0.

One training step = uint8 batch -> normalise -> forward -> class-weighted loss ->
backward -> SGD step, as `segstudio.nets.trainer` does it, on random 240x180
batches of 4 (CamVid at half size; the pixel count of a 240x180 crop at full
resolution is the same). Per network it times, in the same run and interleaved
so that load from other processes hits all of them alike:
  - baseline: fp32, NCHW (the trainer before issue 12)
  - channels_last: fp32, NHWC model and batches (oneDNN's native layout)
  - channels_last + bf16: CPU autocast to bfloat16 (this CPU has AVX-512 but no
    AVX512-BF16/AMX, so bf16 is emulated)
  - compile: torch.compile of the channels_last model (with --compile; compiling
    takes minutes on 2 cores)
and the data pipeline alone (cached uint8 pairs -> augmented batch). Figures are
the median of the timed steps; the last line is one JSON object.

    .venv/bin/python benchmarks/bench_train.py --threads 2 [--steps 4] [--compile]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segstudio.nets import build_model  # noqa: E402
from segstudio.nets.augment import Augment, augment  # noqa: E402
from segstudio.nets.train_loss import segmentation_loss  # noqa: E402

NETS = {"segnet-basic": ("segnet-basic", 1.0), "fcn8s-w0.3": ("fcn8s", 0.3), "fcn8s-lite0": ("fcn8s-lite0", 1.0)}
K, N, W, H = 11, 4, 240, 180


def make_step(arch, width, layout, bf16, compile_):
    torch.manual_seed(0)
    model = build_model(arch, K, width).train()
    cl = layout == "channels_last"
    if cl:
        model = model.to(memory_format=torch.channels_last)
    fwd = torch.compile(model) if compile_ else model
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    weight = torch.rand(K) + 0.5
    g = torch.Generator().manual_seed(1)
    x8 = torch.randint(0, 256, (N, 3, H, W), dtype=torch.uint8, generator=g)
    y = torch.randint(0, K, (N, H, W), generator=g)
    mul, add = torch.full((1, 3, 1, 1), 1 / 255 / 0.225), torch.full((1, 3, 1, 1), -0.45 / 0.225)

    def step():
        x = torch.addcmul(add, x8.float(), mul)
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = fwd(x)
        loss = segmentation_loss(logits, y, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def data_rate(steps: int) -> float:
    rng = random.Random(0)
    img = np.random.default_rng(0).integers(0, 256, (360, 480, 3), np.uint8)
    mask = np.random.default_rng(1).integers(0, 12, (360, 480), np.uint8)
    aug = Augment(0.5, 1.0, (W, H), True, 0.3, 0.3, 0.3, 6.0)
    t = time.perf_counter()
    n = steps * N * 4
    for _ in range(n):
        a, b = augment(img, mask, aug, rng)
        torch.from_numpy(a.transpose(2, 0, 1).copy()), torch.from_numpy(b.astype(np.int64))
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4, help="timed steps per configuration (after 1 warm-up)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    configs = [("baseline", "nchw", False, False), ("channels_last", "channels_last", False, False),
               ("channels_last+bf16", "channels_last", True, False)]
    if args.compile:
        configs.append(("channels_last+compile", "channels_last", False, True))
    results = {}
    for net, (arch, width) in NETS.items():
        steps = {name: make_step(arch, width, layout, bf16, comp) for name, layout, bf16, comp in configs}
        for name, fn in steps.items():
            t = time.perf_counter()
            fn()  # warm-up (and compilation)
            if name.endswith("compile"):
                print(f"{net} {name}: compiled and first step in {time.perf_counter() - t:.1f} s", flush=True)
        times = {name: [] for name in steps}
        for _ in range(args.steps):  # interleaved: other load affects every configuration alike
            for name, fn in steps.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        base = N / statistics.median(times["baseline"])
        results[net] = {}
        for name in steps:
            rate = N / statistics.median(times[name])
            results[net][name] = {"images_per_s": round(rate, 3), "vs_baseline": round(rate / base, 2)}
            print(f"{net:14s} {name:24s} {rate:6.2f} images/s  x{rate / base:4.2f}", flush=True)
    dr = data_rate(args.steps)
    print(f"data pipeline (decoded uint8 pairs, full augmentation): {dr:.0f} images/s")
    print(json.dumps({"threads": args.threads, "batch": N, "size": f"{W}x{H}", "steps": args.steps,
                      "train": results, "data_images_per_s": round(dr, 1)}))


if __name__ == "__main__":
    main()
