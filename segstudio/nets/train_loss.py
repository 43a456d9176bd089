"""The segmentation loss: class-weighted cross-entropy over the valid pixels.

Two normalisations of the weighted sum (docs/design.md §6):
- "valid" (Caffe's SoftmaxWithLoss, as SegNet trained): sum over valid pixels of
  w[y] * -log p(y), divided by the number of valid pixels;
- "mean" (PyTorch's weighted mean): the same sum divided by the sum of w[y].
With median-frequency weights the two differ by roughly 2x on CamVid, so the
learning rates of published recipes only carry over with "valid".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import IGNORE


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                      reduction: str = "valid", ignore_index: int = IGNORE) -> torch.Tensor:
    """Scalar loss of N,K,H,W logits against N,H,W int64 targets (`ignore_index` = void)."""
    logits = logits.float()
    if reduction == "mean":
        if not (target != ignore_index).any():
            return logits.sum() * 0.0
        return F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index, reduction="mean")
    if reduction != "valid":
        raise ValueError(f"unknown loss reduction {reduction!r}")
    per_pixel = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index, reduction="none")
    valid = (target != ignore_index).sum().clamp(min=1)
    return per_pixel.sum() / valid
