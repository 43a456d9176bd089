"""`fcn8s-lite0`: FCN-8s's skip topology on an ImageNet-pretrained EfficientNet-Lite0 encoder.

As in FCN-8s, the coarse stride-32 prediction is refined by the stride-16 and stride-8
features: each tap is projected to `head` channels (1x1 conv + BN), the coarser map is
upsampled bilinearly to the finer one and added, a 3x3 conv + BN + ReLU mixes the stride-8
sum, and a 1x1 classifier scores it; the scores are upsampled bilinearly to the input size.
`skip4` adds the stride-4 tap in the same way (an option, not the default: see recipes/README).
The `width` multiplier scales the head (64 channels at 1.0); the encoder is always Lite0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .efficientnet_lite import TAP_CHANNELS, EfficientNetLite0
from .layers import he_init, scaled

HEAD_CHANNELS = 64


def _proj(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class FCNLite(nn.Module):
    """FCN-8s-style decoder over EfficientNet-Lite0 features; N,3,H,W -> N,K,H,W logits."""

    output_stride = 32
    # The encoder's context spans more than any tile, so tiles cannot match the whole image
    # exactly: 1024-px tiles with this overlap agreed on 98.7 % of a 2560x1920 frame's pixels
    # (256: 93.9 %). The working scale keeps ordinary photos to one tile.
    tile_overlap = 384

    def __init__(self, num_classes: int, width: float = 1.0, skip4: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.encoder = EfficientNetLite0()
        c = scaled(HEAD_CHANNELS, width)
        taps = TAP_CHANNELS if skip4 else TAP_CHANNELS[1:]
        self.skip4 = skip4
        self.proj = nn.ModuleList(_proj(ch, c) for ch in reversed(taps))  # coarsest first
        self.mix = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.classifier = nn.Conv2d(c, num_classes, 1)
        self.initialise()

    def initialise(self, only: set[str] | None = None) -> None:
        """He-initialise the head (the encoder keeps whatever it holds: ImageNet or random)."""
        for name, module in self.named_children():
            if name == "encoder" or (only is not None and name not in only):
                continue
            for m in module.modules():
                if isinstance(m, nn.Conv2d):
                    he_init(m)
                elif isinstance(m, nn.BatchNorm2d):
                    m.reset_parameters()
                    m.reset_running_stats()

    def head_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("encoder.")]

    def decode(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """The mixed stride-8 (or 4) features from the encoder's taps (before the classifier)."""
        feats = feats if self.skip4 else feats[1:]
        h = None
        for proj, f in zip(self.proj, reversed(feats)):
            p = proj(f)
            h = p if h is None else p + _up(h, p)
        return self.mix(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.classifier(self.decode(self.encoder.features(x)))
        return _up(scores, x)
