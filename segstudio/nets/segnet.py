"""SegNet and SegNet-Basic (Badrinarayanan, Kendall & Cipolla, TPAMI 2017).

Layer names follow the Caffe prototxts: SegNet's encoder is `conv1_1` ...
`conv5_3` each followed by `<name>_bn`, its decoder `conv5_3_D` ... `conv1_1_D`
(the last one is the classifier, no BN / ReLU); SegNet-Basic has `norm`,
`conv1..4`, `conv_decode4..1` and `conv_classifier`. Max-pooling keeps its
indices and the decoder unpools with them to the exact pre-pool size, so odd
input sizes come back unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .fcn import VGG16_STAGES
from .layers import init_children, scaled


def _pool(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Size]:
    out, idx = F.max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True)
    return out, idx, x.shape


def _unpool(x: torch.Tensor, idx: torch.Tensor, size: torch.Size) -> torch.Tensor:
    return F.max_unpool2d(x, idx, 2, 2, output_size=size[-2:])


class SegNet(nn.Module):
    """VGG16-BN encoder, mirrored decoder that unpools with the encoder's pooling indices."""

    output_stride = 32
    tile_overlap = 384  # measured: tiles with this overlap give the whole-image result

    def __init__(self, num_classes: int, width: float = 1.0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.stages = [len(s) for s in VGG16_STAGES]
        in_ch = 3
        widths = []
        for s, stage in enumerate(VGG16_STAGES):
            for i, out in enumerate(stage):
                out = scaled(out, width)
                name = f"conv{s + 1}_{i + 1}"
                self.add_module(name, nn.Conv2d(in_ch, out, 3, padding=1))
                self.add_module(name + "_bn", nn.BatchNorm2d(out))
                in_ch = out
            widths.append(in_ch)
        # Decoder stage s: n convs at the stage width, the last one narrows to stage s-1's width.
        for s in reversed(range(len(VGG16_STAGES))):
            n = len(VGG16_STAGES[s])
            for i in reversed(range(n)):
                name = f"conv{s + 1}_{i + 1}_D"
                last = i == 0
                if last and s == 0:
                    self.add_module(name, nn.Conv2d(widths[0], num_classes, 3, padding=1))
                    continue
                out = widths[s - 1] if last else widths[s]
                self.add_module(name, nn.Conv2d(widths[s], out, 3, padding=1))
                self.add_module(name + "_bn", nn.BatchNorm2d(out))
        self.initialise()

    def initialise(self, only: set[str] | None = None) -> None:
        """He-initialised convs, unit BN; `only` limits it to the named layers."""
        init_children(self, only)

    def _cbr(self, name: str, h: torch.Tensor) -> torch.Tensor:
        return F.relu(getattr(self, name + "_bn")(getattr(self, name)(h)), inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        saved = []
        for s, n in enumerate(self.stages):
            for i in range(n):
                h = self._cbr(f"conv{s + 1}_{i + 1}", h)
            h, idx, size = _pool(h)
            saved.append((idx, size))
        for s in reversed(range(len(self.stages))):
            idx, size = saved[s]
            h = _unpool(h, idx, size)
            for i in reversed(range(self.stages[s])):
                name = f"conv{s + 1}_{i + 1}_D"
                if s == 0 and i == 0:
                    h = getattr(self, name)(h)
                else:
                    h = self._cbr(name, h)
        return h


class SegNetBasic(nn.Module):
    """LRN, 4 x (7x7 conv, BN, ReLU, pool), 4 x (unpool, 7x7 conv, BN), 1x1 classifier."""

    output_stride = 16
    tile_overlap = 208  # receptive field of about 196 px: tiles with this overlap match exactly

    def __init__(self, num_classes: int, width: float = 1.0) -> None:
        super().__init__()
        self.num_classes = num_classes
        c = scaled(64, width)
        self.norm = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        in_ch = 3
        for i in range(1, 5):
            self.add_module(f"conv{i}", nn.Conv2d(in_ch, c, 7, padding=3))
            self.add_module(f"conv{i}_bn", nn.BatchNorm2d(c))
            in_ch = c
        for i in range(4, 0, -1):
            self.add_module(f"conv_decode{i}", nn.Conv2d(c, c, 7, padding=3))
            self.add_module(f"conv_decode{i}_bn", nn.BatchNorm2d(c))
        self.conv_classifier = nn.Conv2d(c, num_classes, 1)
        self.initialise()

    def initialise(self, only: set[str] | None = None) -> None:
        """He-initialised convs, unit BN; `only` limits it to the named layers."""
        init_children(self, only)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        saved = []
        for i in range(1, 5):
            h = F.relu(getattr(self, f"conv{i}_bn")(getattr(self, f"conv{i}")(h)), inplace=True)
            h, idx, size = _pool(h)
            saved.append((idx, size))
        for i in range(4, 0, -1):
            idx, size = saved[i - 1]
            h = _unpool(h, idx, size)
            h = getattr(self, f"conv_decode{i}_bn")(getattr(self, f"conv_decode{i}")(h))
        return self.conv_classifier(h)
