"""Segmentation networks (torch, no Qt): FCN-32s/16s/8s, SegNet, SegNet-Basic, and FCN-8s on a
pretrained EfficientNet-Lite0 encoder (`fcn8s-lite0`, the default for new models).

`build_model(arch, num_classes, width=1.0, **options)` is the one constructor
everything else uses (checkpoints, trainer, predictor, GUI). Submodules:
`checkpoint` (safetensors + JSON model cards), `weights` (importing
torchvision / torchfcn state dicts), `predictor` (inference on images).
"""

from __future__ import annotations

from torch import nn

from .errors import ModelError
from .fcn import FCN
from .fcn_lite import FCNLite
from .layers import check_width
from .segnet import SegNet, SegNetBasic

# arch name -> (description, options build_model accepts for it)
ARCHS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fcn8s-lite0": ("FCN-8s skips on an ImageNet-pretrained EfficientNet-Lite0 encoder", ("skip4",)),
    "fcn8s": ("FCN-8s, VGG16 backbone, skips from pool3 and pool4", ("at_once", "learn_upsampling")),
    "fcn16s": ("FCN-16s, VGG16 backbone, skip from pool4", ("learn_upsampling",)),
    "fcn32s": ("FCN-32s, VGG16 backbone, no skips", ("learn_upsampling",)),
    "segnet": ("SegNet, VGG16-BN encoder, decoder with pooling indices", ()),
    "segnet-basic": ("SegNet-Basic, 4 x 7x7 conv encoder / decoder", ()),
}

MAX_CLASSES = 255
# What `segstudio train` and "Train on My Annotations" build without --arch / --init.
DEFAULT_ARCH = "fcn8s-lite0"
# Architectures whose encoder starts from ImageNet weights unless told otherwise (pretrained.py).
PRETRAINED_ARCHS = ("fcn8s-lite0",)


def build_model(arch: str, num_classes: int, width: float = 1.0, **options) -> nn.Module:
    """A freshly initialised network (docs/design.md §4) whose forward maps N,3,H,W to N,K,H,W logits.

    The returned module carries `arch`, `width`, `arch_options`, `num_classes`,
    `output_stride` and `tile_overlap` attributes.
    """
    if arch not in ARCHS:
        raise ModelError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
    unknown = sorted(set(options) - set(ARCHS[arch][1]))
    if unknown:
        allowed = ", ".join(ARCHS[arch][1]) or "none"
        raise ModelError(f"{arch} has no option {', '.join(map(repr, unknown))} (options: {allowed})")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or not 1 <= num_classes <= MAX_CLASSES:
        raise ModelError(f"number of classes must be an integer in 1..{MAX_CLASSES}, got {num_classes!r}")
    width = check_width(width)
    options = {k: bool(v) for k, v in options.items()}
    if arch == "fcn8s-lite0":
        model = FCNLite(num_classes, width=width, **options)
    elif arch.startswith("fcn"):
        model = FCN(num_classes, variant=int(arch[3:-1]), width=width, **options)
    elif arch == "segnet":
        model = SegNet(num_classes, width=width)
    else:
        model = SegNetBasic(num_classes, width=width)
    model.arch = arch
    model.width = width
    model.arch_options = dict(options)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["ARCHS", "DEFAULT_ARCH", "PRETRAINED_ARCHS", "ModelError", "build_model", "count_parameters"]
