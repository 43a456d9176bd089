"""The one device policy of segstudio: `auto`, `cpu`, `cuda`, `cuda:N` or `mps`.

The predictor and the trainer both pick their device here. `auto` takes CUDA
(the process's local rank under torchrun), then Apple MPS, then the CPU.
Asking for a device this machine does not have is an error that says so,
rather than a silent fallback.
"""

from __future__ import annotations

import os
from typing import Mapping

import torch

from .errors import ModelError

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"


def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(name: str | torch.device = "auto", local_rank: int = 0) -> torch.device:
    """The torch device for `name`; `cuda` without an index means `cuda:<local_rank>`."""
    text = str(name).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device(f"cuda:{local_rank}")
        return torch.device("mps") if mps_available() else torch.device("cpu")
    try:
        dev = torch.device(text)
    except RuntimeError:
        raise ModelError(f"unknown device {str(name)!r}; use {DEVICE_CHOICES}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelError(f"device {str(name)!r} requested but CUDA is not available "
                             f"(this PyTorch build: {torch.__version__}); use --device cpu or auto")
        index = local_rank if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise ModelError(f"device cuda:{index} requested but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
        return torch.device(f"cuda:{index}")
    if dev.type == "mps":
        if not mps_available():
            raise ModelError("device 'mps' requested but Apple MPS is not available")
        return dev
    if dev.type == "cpu":
        return dev
    raise ModelError(f"unsupported device {str(name)!r}; use {DEVICE_CHOICES}")


def torchrun_place(env: Mapping[str, str] | None = None) -> tuple[int, int, int, int] | None:
    """(rank, world size, local rank, local world size) when torchrun started this process
    as one of several; None for a single process. Read from `env` (default: os.environ)."""
    env = os.environ if env is None else env
    world = int(env.get("WORLD_SIZE", "1") or 1)
    if world <= 1 or "RANK" not in env:
        return None
    local_world = int(env.get("LOCAL_WORLD_SIZE", "") or world)
    return int(env["RANK"]), world, int(env.get("LOCAL_RANK", "0") or 0), local_world
