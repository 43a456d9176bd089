"""Plain data a training run reports: progress events, the result, the error, hardware, timestamps.

Everything here is safe to send across threads (the GUI gets `Progress` objects
from the training worker)."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from segstudio.core.errors import SegstudioError


class TrainingError(SegstudioError, RuntimeError):
    """Training cannot start or continue (bad checkpoint to resume, diverged loss...)."""


@dataclass
class Progress:
    """One progress report; plain data, safe to send across threads.

    kind: "status" (message), "step" (loss, lr, images_per_s, eta_s), "epoch"
    (epoch finished: loss, val figures if validated), "checkpoint" (path),
    "done" (final figures)."""

    kind: str
    epoch: int = 0  # 1-based epoch being trained / just finished
    epochs: int = 0
    step: int = 0  # 1-based step within the epoch
    steps: int = 0
    loss: float | None = None
    lr: float | None = None
    images_per_s: float | None = None
    eta_s: float | None = None
    elapsed_s: float = 0.0
    val: dict | None = None  # pixel_accuracy, mean_accuracy, mean_iou, fw_iou
    path: str | None = None
    message: str = ""


@dataclass
class TrainResult:
    best_path: Path | None
    last_path: Path | None
    epochs_done: int
    stopped: str  # "finished", "cancelled", "time budget"
    best_metrics: dict = field(default_factory=dict)
    last_metrics: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    wall_time_s: float = 0.0
    extra_metrics: dict = field(default_factory=dict)  # split name -> figures of the best model


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hardware(ctx) -> dict:
    hw = {"device": str(ctx.device), "world_size": ctx.world_size, "torch": torch.__version__,
          "cpu": platform.processor() or platform.machine(), "cpu_threads": torch.get_num_threads()}
    if ctx.device.type == "cuda":
        hw["gpu"] = torch.cuda.get_device_name(ctx.device)
    return hw


def bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
