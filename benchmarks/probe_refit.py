"""Probe: does "Apply my corrections to this image" gain on frames the model never saw? (It did not: not shipped.)

    .venv/bin/python benchmarks/probe_refit.py --images DIR --gt DIR --model M [--limit 6]

For each image: the model's prediction; a person's first K corrections, simulated as the K
largest wrong components (connected, one true class; the simulated annotator's view in
effort_scene.py) set to their true class; then the light head refitted on the edited pixels
(+ confident unedited ones) re-predicts the unedited pixels (`refit_unedited` below, kept here as
the record of the experiment: fcn8s-lite0 pretrained features, a multinomial logistic head fitted
with Adam; --mode head / unsure (only where the model is below 0.9) / product (model x head)).
Measured on 0006R0 frames held out from the CamVid fcn8s-lite0: the refit lowered the accuracy in
almost every case (docs/guide/learning-loop.md). Printed: pixel accuracy (valid
ground truth) after the K corrections alone and after the refit, and the number of wrong
components left (what the annotator would still click), per K and as means. Last line JSON
with the mean accuracy gain per K (positive: the refit helps).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_effort import load_pairs  # noqa: E402
from effort_scene import Scene, error_components  # noqa: E402
from segstudio.core.imageio import load_image, read_label_png  # noqa: E402

import cv2  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from segstudio.nets.features import pretrained_features  # noqa: E402


CONFIDENT = 0.9       # unedited cells whose model probability is at least this join the fit
CONFIDENT_WEIGHT = 0.3
STEPS = 150


def _grid(mask_or_labels: np.ndarray, shape: tuple[int, int], interp) -> np.ndarray:
    h, w = shape
    return cv2.resize(mask_or_labels, (w, h), interpolation=interp)


def fit_head(x: torch.Tensor, y: torch.Tensor, wt: torch.Tensor, k: int, steps: int = STEPS) -> torch.nn.Linear:
    """A k-class linear head on N x C features `x`, labels `y`, per-sample weights `wt`."""
    torch.manual_seed(0)
    head = torch.nn.Linear(x.shape[1], k)
    opt = torch.optim.Adam(head.parameters(), lr=0.05, weight_decay=1e-4)
    for _ in range(steps):
        loss = (F.cross_entropy(head(x), y, reduction="none") * wt).sum() / wt.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head


def refit_unedited(predictor, image: np.ndarray, labels: np.ndarray, edited: np.ndarray,
                   confident: float = CONFIDENT, steps: int = STEPS, mode: str = "head") -> np.ndarray:
    """`labels` with its unedited pixels re-predicted by a head refitted on the edited ones (see the module).

    mode "head": the refitted head's labels; "unsure": the same, only where the model's probability is
    below `confident`; "product": there, the argmax of the model's and the head's probabilities multiplied."""
    k = predictor.labelset.num_classes
    feats = pretrained_features(predictor, image).astype(np.float32)  # C x gh x gw
    c, gh, gw = feats.shape
    probs = predictor.predict_working_probs(image)
    probs = np.stack([_grid(p, (gh, gw), cv2.INTER_AREA) for p in probs])
    frac = _grid(edited.astype(np.float32), (gh, gw), cv2.INTER_AREA)
    lab = _grid(labels, (gh, gw), cv2.INTER_NEAREST)
    use_edit = (frac > 0.5) & (lab < k)
    use_conf = (frac == 0) & (probs.max(0) >= confident)
    if not use_edit.any():
        return labels.copy()
    x = torch.from_numpy(feats.reshape(c, -1).T.copy())
    y = np.where(use_edit, lab, probs.argmax(0)).ravel()
    wt = np.where(use_edit, 1.0, np.where(use_conf, CONFIDENT_WEIGHT, 0.0)).ravel().astype(np.float32)
    sel = wt > 0
    head = fit_head(x[sel], torch.from_numpy(y[sel].astype(np.int64)), torch.from_numpy(wt[sel]), k, steps)
    with torch.no_grad():
        p = torch.softmax(head(x), 1).T.reshape(1, k, gh, gw)
    h, w = labels.shape
    head_p = F.interpolate(p, size=(h, w), mode="bilinear", align_corners=False)[0]
    write = ~edited
    if mode == "head":
        full = head_p.argmax(0)
    else:
        model_p = F.interpolate(torch.from_numpy(np.ascontiguousarray(predictor.predict_working_probs(image)))[None],
                                size=(h, w), mode="bilinear", align_corners=False)[0]
        write &= (model_p.max(0).values < confident).numpy()
        full = head_p.argmax(0) if mode == "unsure" else (head_p * model_p).argmax(0)
    out = labels.copy()
    full = full.numpy().astype(np.uint8)
    out[write] = full[write]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--limit", type=int, default=6)
    ap.add_argument("--ks", default="3,6,10")
    ap.add_argument("--mode", default="head", choices=("head", "unsure", "product"))
    args = ap.parse_args()
    from segstudio.nets.predictor import Predictor

    predictor = Predictor.from_checkpoint(args.model, device="cpu", backend="torch")
    ks = [int(k) for k in args.ks.split(",")]
    gains = {k: [] for k in ks}
    comps_delta = {k: [] for k in ks}
    for img_path, gt_path in load_pairs(args.images, args.gt, args.limit):
        image = load_image(img_path)
        gt = read_label_png(gt_path, expected_size=(image.shape[1], image.shape[0]))
        scene = Scene(image, gt, predictor.labelset.ignore_index)
        pred = predictor.predict(image)
        acc = lambda s: float(np.count_nonzero(scene.valid & (s == gt)) / scene.n_valid)  # noqa: E731
        line = [f"{img_path.name}: prediction {acc(pred):.3f}"]
        for k in ks:
            state, edited = pred.copy(), np.zeros(gt.shape, bool)
            for comp in error_components(scene, pred, k):
                sl = (slice(comp.y0, comp.y0 + comp.mask.shape[0]), slice(comp.x0, comp.x0 + comp.mask.shape[1]))
                state[sl][comp.mask] = comp.cls
                edited[sl] |= comp.mask
            after = refit_unedited(predictor, image, state, edited, mode=args.mode)
            n0, n1 = len(error_components(scene, state, 10 ** 6)), len(error_components(scene, after, 10 ** 6))
            gains[k].append(acc(after) - acc(state))
            comps_delta[k].append(n1 - n0)
            line.append(f"K={k}: {acc(state):.3f} -> refit {acc(after):.3f} (wrong components {n0} -> {n1})")
        print(" | ".join(line), flush=True)
    out = {"images": len(gains[ks[0]]), "model": str(args.model), "mode": args.mode,
           **{f"gain_k{k}": float(np.mean(gains[k])) for k in ks},
           **{f"wrong_components_delta_k{k}": float(np.mean(comps_delta[k])) for k in ks}}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
