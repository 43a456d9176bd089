"""Optimisers (SGD with momentum, AdamW) and learning-rate schedules (poly, step, constant).

The learning rate is a pure function of (epoch, step) so that a resumed run
follows exactly the schedule of an uninterrupted one.
"""

from __future__ import annotations

import torch
from torch import nn

from .train_config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    # No weight decay on biases and normalisation parameters (1-D tensors).
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
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


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr
