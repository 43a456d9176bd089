"""Optimisers (SGD with momentum, AdamW) and learning-rate schedules (poly, step, constant).

The learning rate is a pure function of (epoch, step) so that a resumed run
follows exactly the schedule of an uninterrupted one.
"""

from __future__ import annotations

import torch
from torch import nn

from .train_config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Parameter groups: no weight decay on biases and normalisation parameters (1-D tensors), and
    a pretrained encoder's parameters (`encoder.*`) at `encoder_lr_mult` times the learning rate."""
    groups = []
    for encoder in (False, True):
        mult = cfg.encoder_lr_mult if encoder else 1.0
        params = [(n, p) for n, p in model.named_parameters()
                  if p.requires_grad and n.startswith("encoder.") == encoder]
        for decay in (True, False):
            chosen = [p for _, p in params if (p.ndim > 1) == decay]
            if chosen:
                groups.append({"params": chosen, "weight_decay": cfg.weight_decay if decay else 0.0,
                               "lr_mult": mult})
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def lr_at(cfg: TrainConfig, epoch: int, step: int, steps_per_epoch: int) -> float:
    """Learning rate for step `step` (0-based) of epoch `epoch` (0-based)."""
    if cfg.lr_schedule == "constant":
        return cfg.lr
    if cfg.lr_schedule == "step":
        return cfg.lr * cfg.step_gamma ** (epoch // max(1, cfg.step_size))
    total = cfg.epochs * steps_per_epoch
    done = min(epoch * steps_per_epoch + step, total - 1)
    return cfg.lr * (1 - done / total) ** cfg.poly_power


def lr_by_time(cfg: TrainConfig, fraction: float) -> float:
    """Learning rate when the schedule runs over a time budget: `fraction` of it is spent."""
    if cfg.lr_schedule != "poly":
        return cfg.lr
    return cfg.lr * max(0.0, 1 - min(1.0, fraction)) ** cfg.poly_power


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_mult", 1.0)
