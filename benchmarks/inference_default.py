"""The default model's speed against the previous default (bench_inference.py --only default).

Both models predict as the studio does (the Predictor at the card's working scale), on the
same CamVid val frames at 480x360 (2 threads unless told), taking turns image by image, on
eager torch and on onnxruntime (the `auto` backend's fast path); then one 6000x4000 photo
(a frame upscaled), best of two. The ratios are new / old time: the target is <= 1.5 at
480x360 and <= 5 s at 6000x4000.
"""

from __future__ import annotations

import time


def _predictors(name: str):
    from segstudio.nets.checkpoint import load_checkpoint
    from segstudio.nets.onnx_export import OrtModule, onnx_bytes, ort_session
    from segstudio.nets.predictor import Predictor

    model, card = load_checkpoint(name)
    session = ort_session(onnx_bytes(model, card))
    return {"torch": Predictor(model, card, device="cpu"),
            "onnxruntime": Predictor(OrtModule(session, model), card, device="cpu")}


def default_section(new: str, old: str, images: list, threads: int) -> dict:
    import cv2
    import torch

    torch.set_num_threads(threads)
    preds = {name: _predictors(name) for name in (new, old)}
    times = {(m, b): [] for m in preds for b in preds[m]}
    for m in preds:  # warm-up
        for p in preds[m].values():
            p.predict(images[0])
    for im in images[1:]:
        for (m, b) in times:
            t = time.perf_counter()
            preds[m][b].predict(im)
            times[(m, b)].append(time.perf_counter() - t)
    res = {"threads": threads, "frames": len(images) - 1, "new": new, "old": old, "s_per_frame": {}}
    for (m, b), ts in times.items():
        res["s_per_frame"][f"{m}/{b}"] = round(sum(ts) / len(ts), 4)
    for b in ("torch", "onnxruntime"):
        res[f"ratio_{b}"] = round(res["s_per_frame"][f"{new}/{b}"] / res["s_per_frame"][f"{old}/{b}"], 2)
    fastest = {m: min(res["s_per_frame"][f"{m}/{b}"] for b in preds[m]) for m in preds}
    res["ratio_fastest"] = round(fastest[new] / fastest[old], 2)
    big = cv2.resize(images[1], (6000, 4000), interpolation=cv2.INTER_CUBIC)
    for m in preds:
        best = min(_timed(preds[m]["onnxruntime"], big) for _ in range(2))
        res[f"6000x4000_s/{m}"] = round(best, 2)
    lines = [f"default model {new} against {old}, 480x360, {threads} threads, {res['frames']} frames:"]
    lines += [f"    {k:<40} {v:.3f} s" for k, v in res["s_per_frame"].items()]
    lines += [f"    new / old: torch {res['ratio_torch']:.2f}x, onnxruntime {res['ratio_onnxruntime']:.2f}x, "
              f"fastest path {res['ratio_fastest']:.2f}x (target <= 1.5)",
              f"    6000x4000: {new} {res[f'6000x4000_s/{new}']:.2f} s, {old} {res[f'6000x4000_s/{old}']:.2f} s "
              "(target <= 5 s)"]
    print("\n".join(lines), flush=True)
    return res


def _timed(predictor, image) -> float:
    t = time.perf_counter()
    predictor.predict(image)
    return time.perf_counter() - t
