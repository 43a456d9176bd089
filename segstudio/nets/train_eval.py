"""Evaluation during training: input normalisation on the device, the confusion-matrix
figures of a split, batch-norm statistics recomputed over the training set, autocast."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from segstudio.core.metrics import confusion_for, scores_from_matrix

from .augment import IGNORE
from .card import InputTransform
from .train_report import bn_layers

FIGURES = ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou")


def autocast(ctx, amp: bool):
    """bf16 autocast on CUDA when `amp`; on the CPU none (no bf16 units here: it measured slower)."""
    if ctx.device.type == "cuda" and amp:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def make_normaliser(card: dict, device: torch.device, channels_last: bool = False):
    """uint8 N,3,H,W batch -> the float input the card's network expects (`card.InputTransform`),
    on `device`, in NHWC memory when `channels_last`."""
    transform = InputTransform.from_card(card)

    def norm(x: torch.Tensor) -> torch.Tensor:
        x = transform(x.to(device, non_blocking=True))
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x

    return norm


@torch.no_grad()
def evaluate(model: nn.Module, loader, norm, k: int, ctx, amp: bool = True) -> dict:
    """Pixel accuracy, mean accuracy, mean IoU, frequency-weighted IoU and per-class IoU
    over the loader's images (all processes' shards together)."""
    model.eval()
    matrix = np.zeros((k, k + 1), np.int64)
    for x, y, _ in loader:
        with autocast(ctx, amp):
            logits = model(norm(x))
        pred = logits.argmax(1).to(torch.uint8).cpu().numpy()
        for p, g in zip(pred, y.numpy()):
            matrix += confusion_for(np.minimum(g, IGNORE).astype(np.uint8), p, k)
    matrix = ctx.all_reduce_sum(torch.from_numpy(matrix).to(ctx.device)).cpu().numpy()
    s = scores_from_matrix(matrix)
    return {"pixel_accuracy": s.pixel_accuracy, "mean_accuracy": s.mean_accuracy,
            "mean_iou": s.mean_iou, "fw_iou": s.fw_iou,
            "iou": [None if math.isnan(v) else float(v) for v in s.iou]}


@torch.no_grad()
def recompute_bn(model: nn.Module, loader, norm, ctx, amp: bool = True, cancel=None) -> bool:
    """Replace BN running statistics by their average over the (un-augmented) training set."""
    bns = bn_layers(model)
    if not bns:
        return False
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over all batches
    model.train()
    for x, _, _ in loader:
        if cancel is not None and cancel.is_set():
            break
        with autocast(ctx, amp):
            model(norm(x))
    for m, mom in zip(bns, momenta):
        m.momentum = mom
        if ctx.distributed:
            for buf in (m.running_mean, m.running_var):
                ctx.all_reduce_sum(buf)
                buf /= ctx.world_size
    model.eval()
    return True
