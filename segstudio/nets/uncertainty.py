"""Per-pixel confidence of a prediction: one-pass scores and Monte-Carlo dropout.

One pass (cheap): from the softmax probabilities, `margin` = p(best) - p(second)
(default: low exactly where two classes compete), `maxprob` = p(best), or
`entropy` = 1 - H(p) / log K. All give float32 in [0, 1], 1 = certain.

Monte-Carlo dropout (Bayesian SegNet, Kendall et al. 2015): for models with
dropout layers (FCN-8s fc6/fc7), run N forward passes with only the dropout
layers in training mode; labels are the argmax of the mean probabilities, and
confidence is 1 - 2 * (standard deviation over samples of the chosen class's
probability), which is 1 when every sample agrees and 0 at the largest spread a
probability can have.

`working_probabilities` gives the softmax probabilities at the scale the model
predicts at (not upsampled: K planes of a 6000x4000 image would not fit), for
the model wand (core.assist.model_wand). No Qt here.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from segstudio.core.jobs import CancelFn, check_cancel

METHODS = ("margin", "maxprob", "entropy")


def confidence_from_probs(probs: np.ndarray, method: str = "margin") -> np.ndarray:
    """HxW float32 confidence in [0, 1] from KxHxW probabilities."""
    if method not in METHODS:
        raise ValueError(f"confidence method must be one of {', '.join(METHODS)}, got {method!r}")
    p = torch.from_numpy(np.ascontiguousarray(probs, dtype=np.float32))
    k = p.shape[0]
    if method == "entropy":
        if k < 2:
            return np.ones(p.shape[1:], np.float32)
        h = -(p * torch.log(p.clamp_min(1e-12))).sum(0)
        return (1.0 - h / math.log(k)).clamp(0, 1).numpy()
    if method == "maxprob" or k < 2:
        return p.max(0).values.numpy()
    top2 = torch.topk(p, 2, dim=0).values
    return (top2[0] - top2[1]).clamp(0, 1).numpy()


def working_probabilities(predictor, image: np.ndarray, cancelled: CancelFn | None = None) -> np.ndarray:
    """K x h x w float32 softmax probabilities of an RGB image at the predictor's working scale."""
    check_cancel(cancelled)
    return predictor.predict_working_probs(image).astype(np.float32, copy=False)


def has_dropout(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.dropout._DropoutNd) for m in model.modules())


def _dropout_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]


def mc_dropout(predictor, image: np.ndarray, samples: int = 8, seed: int | None = 0,
               cancelled: CancelFn | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels uint8 HxW, confidence float32 HxW, mean probabilities KxHxW) from `samples` dropout passes.

    `predictor` is a nets.predictor.Predictor whose model has dropout layers.
    """
    layers = _dropout_layers(predictor.model)
    if not layers:
        raise ValueError("Monte-Carlo dropout needs a model with dropout layers (e.g. FCN-8s); this one has none")
    if samples < 2:
        raise ValueError("Monte-Carlo dropout needs at least 2 samples")
    if seed is not None:
        torch.manual_seed(seed)
    total = sq = None
    try:
        for m in layers:
            m.train()
        for _ in range(samples):
            check_cancel(cancelled)
            _, probs = predictor.predict(image, return_probs=True)
            total = probs.astype(np.float64) if total is None else total + probs
            sq = probs.astype(np.float64) ** 2 if sq is None else sq + probs.astype(np.float64) ** 2
    finally:
        for m in layers:
            m.eval()
    mean = total / samples
    var = np.maximum(sq / samples - mean * mean, 0.0)
    labels = mean.argmax(0).astype(np.uint8)
    chosen_std = np.sqrt(np.take_along_axis(var, labels[None].astype(np.int64), 0)[0])
    conf = np.clip(1.0 - 2.0 * chosen_std, 0.0, 1.0).astype(np.float32)
    return labels, conf, mean.astype(np.float32)
