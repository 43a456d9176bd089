"""FCN-32s, FCN-16s and FCN-8s (Long, Shelhamer & Darrell, CVPR 2015) on a VGG16 backbone.

Layer names are those of the Caffe models (`conv1_1` ... `fc7`, `score_fr`,
`score_pool4`, `upscore2`, ...), so the Caffe-converted state dicts PyTorch
users share (torchfcn's `fcn8s_from_caffe.pth`) load without renaming.

Alignment follows the reference net exactly: conv1_1 pads by 100, pools use
ceil_mode, and the skip / output crops are 5, 9 and 31 for FCN-8s (5 and 27
for FCN-16s, 19 for FCN-32s). Those offsets are what makes output pixel (i, j)
correspond to input pixel (i, j) for every input size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import bilinear_init, he_init, scaled, zero_init

# VGG16's conv stages: output channels of each 3x3 conv.
VGG16_STAGES: tuple[tuple[int, ...], ...] = (
    (64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512),
)
VGG16_CONV_NAMES: tuple[str, ...] = tuple(
    f"conv{s + 1}_{i + 1}" for s, stage in enumerate(VGG16_STAGES) for i in range(len(stage))
)

# (crop of score_pool4, crop of score_pool3, final crop) per variant, from the reference prototxts.
CROPS = {32: (None, None, 19), 16: (5, None, 27), 8: (5, 9, 31)}


class FCN(nn.Module):
    """Fully convolutional VGG16: `variant` is 32, 16 or 8 (the output stride of the coarsest path)."""

    output_stride = 32
    # Sliding-window overlap at which tiled prediction equals whole-image prediction
    # (measured; half of it covers the ~400 px receptive field of fc6 on pool5).
    tile_overlap = 448

    def __init__(self, num_classes: int, variant: int = 8, width: float = 1.0,
                 at_once: bool = False, learn_upsampling: bool = False) -> None:
        super().__init__()
        if variant not in CROPS:
            raise ValueError(f"FCN variant must be 32, 16 or 8, got {variant}")
        if at_once and variant != 8:
            raise ValueError("the at-once scaling exists only for FCN-8s")
        self.variant = variant
        self.num_classes = num_classes
        self.at_once = at_once
        in_ch = 3
        for s, stage in enumerate(VGG16_STAGES):
            for i, out in enumerate(stage):
                out = scaled(out, width)
                self.add_module(f"conv{s + 1}_{i + 1}",
                                nn.Conv2d(in_ch, out, 3, padding=100 if (s, i) == (0, 0) else 1))
                in_ch = out
        pool_ch = [scaled(stage[-1], width) for stage in VGG16_STAGES]
        fc = scaled(4096, width)
        self.fc6 = nn.Conv2d(in_ch, fc, 7)
        self.drop6 = nn.Dropout()
        self.fc7 = nn.Conv2d(fc, fc, 1)
        self.drop7 = nn.Dropout()
        self.score_fr = nn.Conv2d(fc, num_classes, 1)
        k = num_classes
        if variant == 32:
            self.upscore = nn.ConvTranspose2d(k, k, 64, stride=32, bias=False)
            ups = [self.upscore]
        else:
            self.score_pool4 = nn.Conv2d(pool_ch[3], k, 1)
            self.upscore2 = nn.ConvTranspose2d(k, k, 4, stride=2, bias=False)
            if variant == 16:
                self.upscore16 = nn.ConvTranspose2d(k, k, 32, stride=16, bias=False)
                ups = [self.upscore2, self.upscore16]
            else:
                self.score_pool3 = nn.Conv2d(pool_ch[2], k, 1)
                self.upscore_pool4 = nn.ConvTranspose2d(k, k, 4, stride=2, bias=False)
                self.upscore8 = nn.ConvTranspose2d(k, k, 16, stride=8, bias=False)
                ups = [self.upscore2, self.upscore_pool4, self.upscore8]
        self.initialise()
        for up in ups:
            # The reference keeps the bilinear upsampling fixed.
            up.weight.requires_grad_(learn_upsampling)

    def initialise(self, only: set[str] | None = None) -> None:
        """From-scratch initialisation: He for backbone and fc6/fc7, zero scores, bilinear upsampling.

        `only` limits it to the named layers (used when loading weights partially).
        """
        for name, m in self.named_children():
            if only is not None and name not in only:
                continue
            if isinstance(m, nn.ConvTranspose2d):
                bilinear_init(m)
            elif isinstance(m, nn.Conv2d):
                (zero_init if name.startswith("score") else he_init)(m)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """pool3, pool4 and the fc7 activations."""
        h = x
        pools = []
        for s, stage in enumerate(VGG16_STAGES):
            for i in range(len(stage)):
                h = F.relu(getattr(self, f"conv{s + 1}_{i + 1}")(h), inplace=True)
            h = F.max_pool2d(h, 2, 2, ceil_mode=True)
            pools.append(h)
        h = self.drop6(F.relu(self.fc6(h), inplace=True))
        h = self.drop7(F.relu(self.fc7(h), inplace=True))
        return pools[2], pools[3], h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pool3, pool4, h = self.encode(x)
        score = self.score_fr(h)
        c4, c3, c_out = CROPS[self.variant]
        if self.variant == 32:
            out = self.upscore(score)
        else:
            up = self.upscore2(score)
            p4 = self.score_pool4(pool4 * 0.01 if self.at_once else pool4)
            h = up + p4[:, :, c4:c4 + up.shape[2], c4:c4 + up.shape[3]]
            if self.variant == 16:
                out = self.upscore16(h)
            else:
                up = self.upscore_pool4(h)
                p3 = self.score_pool3(pool3 * 0.0001 if self.at_once else pool3)
                h = up + p3[:, :, c3:c3 + up.shape[2], c3:c3 + up.shape[3]]
                out = self.upscore8(h)
        return out[:, :, c_out:c_out + height, c_out:c_out + width].contiguous()
