"""Building blocks shared by the architectures: channel scaling and initialisers."""

from __future__ import annotations

import torch
from torch import nn


def scaled(channels: int, width: float) -> int:
    """Channel count for a `width` multiplier: exact at 1.0, never below 8 otherwise."""
    if width == 1.0:
        return channels
    return max(8, int(round(channels * width)))


def check_width(width: float) -> float:
    from .errors import ModelError

    try:
        width = float(width)
    except (TypeError, ValueError):
        raise ModelError(f"width must be a number, got {width!r}") from None
    if not (0.0 < width <= 4.0):
        raise ModelError(f"width must be in (0, 4], got {width}")
    return width


def he_init(conv: nn.Conv2d) -> None:
    """MSRA / He initialisation (Caffe's "msra" filler: variance 2 / fan_in), zero bias."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def zero_init(conv: nn.Module) -> None:
    nn.init.zeros_(conv.weight)
    if getattr(conv, "bias", None) is not None:
        nn.init.zeros_(conv.bias)


def bn_init(bn: nn.BatchNorm2d) -> None:
    bn.reset_running_stats()
    nn.init.ones_(bn.weight)
    nn.init.zeros_(bn.bias)


def init_children(module: nn.Module, only: set[str] | None = None) -> None:
    """He-initialise a module's direct conv children and reset its BNs; `only` limits it to those names."""
    for name, m in module.named_children():
        if only is not None and name not in only:
            continue
        if isinstance(m, nn.Conv2d):
            he_init(m)
        elif isinstance(m, nn.BatchNorm2d):
            bn_init(m)


def bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """Weights of a ConvTranspose2d doing bilinear upsampling, class c -> class c only.

    Same formula as Caffe's "bilinear" filler and FCN's `upsample_filt`.
    """
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float64)
    filt1d = 1 - (og - center).abs() / factor
    filt = (filt1d[:, None] * filt1d[None, :]).to(torch.float32)
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    idx = torch.arange(channels)
    weight[idx, idx] = filt
    return weight


def bilinear_init(up: nn.ConvTranspose2d) -> None:
    with torch.no_grad():
        up.weight.copy_(bilinear_kernel(up.in_channels, up.kernel_size[0]))
