"""The model card: the one place that reads, checks and applies a checkpoint's `<name>.json`.

A card says everything needed to rebuild and use a model without code:
architecture, width and options, the label set (names, colours, ignore
index), input normalisation and channel order, and what it was trained on and
how well it scored. `validate_card` checks every field once, with a message
naming the field; `InputTransform.from_card` turns the `input` section into
the transform that the predictor, the trainer and the evaluation all apply, so
a model is served exactly as it was trained.

Input normalisation (`card["input"]`): pixels 0..255 are put in
`channel_order` ("RGB" or "BGR"), multiplied by `scale`, then `mean` is
subtracted and the result divided by `std`, per channel in that order. An
optional `resize` factor (default 1) says that the network saw images scaled
by it (models trained on downscaled images, e.g. on a CPU); an optional
`train_short_side` (whole pixels) is the short side of the training images as
the network saw them, which the predictor brings every image's short side to.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from segstudio.core.errors import LabelSetError
from segstudio.core.labels import LabelSet
from segstudio.core.limits import MAX_SCALE

from . import ARCHS
from .errors import ModelError

FORMAT_NAME = "segstudio.model"
FORMAT_VERSION = 1

IMAGENET_INPUT = {"channel_order": "RGB", "scale": 1 / 255,
                  "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
#: Bounds of input.train_short_side (pixels): anything else is a damaged or hand-edited card.
MIN_SHORT_SIDE, MAX_SHORT_SIDE = 1, 16384
# The convention of the original Caffe FCN / VGG weights (mean in B, G, R order).
CAFFE_INPUT = {"channel_order": "BGR", "scale": 1.0,
               "mean": [104.00698793, 116.66876762, 122.67891434], "std": [1.0, 1.0, 1.0]}


def make_card(arch: str, width: float, labelset: LabelSet, input_norm: dict | None = None, **extra) -> dict:
    """A valid model card. `extra` may set name, arch_options, training, metrics or add other keys."""
    card = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "name": extra.pop("name", ""),
        "arch": arch,
        "width": float(width),
        "num_classes": labelset.num_classes,
        "arch_options": dict(extra.pop("arch_options", None) or {}),
        "labelset": labelset.to_dict(),
        "input": copy.deepcopy(dict(input_norm or IMAGENET_INPUT)),
        "training": dict(extra.pop("training", None) or {}),
        "metrics": dict(extra.pop("metrics", None) or {}),
    }
    card.update(extra)
    validate_card(card, "model card")
    return card


def validate_card(card: dict, source: str | Path = "model card") -> dict:
    """Check a card's fields; raise ModelError saying which field of `source` is wrong."""
    def bad(msg: str) -> ModelError:
        return ModelError(f"{source}: {msg}")

    if not isinstance(card, dict):
        raise bad("a model card must be a JSON object")
    if card.get("format") != FORMAT_NAME:
        raise bad(f"not a segstudio model card (format is {card.get('format')!r}, expected {FORMAT_NAME!r})")
    version = card.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise bad(f"model card format_version {version!r} is not supported (this segstudio reads up to "
                  f"{FORMAT_VERSION}); a newer segstudio wrote it")
    arch = card.get("arch")
    if arch not in ARCHS:
        raise bad(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
    width = card.get("width")
    if not isinstance(width, (int, float)) or isinstance(width, bool) or not 0 < width <= 4:
        raise bad(f"width must be a number in (0, 4], got {width!r}")
    options = card.get("arch_options", {})
    if not isinstance(options, dict):
        raise bad("arch_options must be an object")
    unknown = sorted(set(options) - set(ARCHS[arch][1]))
    if unknown:
        raise bad(f"{arch} has no option {', '.join(map(repr, unknown))}")
    labelset = card_labelset(card, source)
    k = card.get("num_classes")
    if k != labelset.num_classes:
        raise bad(f"num_classes is {k!r} but the label set has {labelset.num_classes} classes "
                  f"({', '.join(labelset.names)})")
    _check_input(card.get("input"), bad)
    for key in ("training", "metrics"):
        if not isinstance(card.get(key, {}), dict):
            raise bad(f"{key} must be an object")
    return card


def _check_input(inp, bad) -> None:
    if not isinstance(inp, dict):
        raise bad("input (normalisation) must be an object with channel_order, scale, mean, std")
    if inp.get("channel_order") not in ("RGB", "BGR"):
        raise bad(f"input.channel_order must be 'RGB' or 'BGR', got {inp.get('channel_order')!r}")
    scale = inp.get("scale")
    if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise bad(f"input.scale must be a positive number, got {scale!r}")
    for key in ("mean", "std"):
        v = inp.get(key)
        if (not isinstance(v, (list, tuple)) or len(v) != 3
                or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in v)):
            raise bad(f"input.{key} must be a list of 3 numbers, got {v!r}")
    if any(s <= 0 for s in inp["std"]):
        raise bad(f"input.std must be positive, got {inp['std']}")
    resize = inp.get("resize", 1.0)
    if not isinstance(resize, (int, float)) or isinstance(resize, bool) or not 0 < resize <= MAX_SCALE:
        raise bad(f"input.resize (factor applied to images before the network) must be in (0, {MAX_SCALE:g}], "
                  f"got {resize!r}")
    short = inp.get("train_short_side")
    whole = isinstance(short, int) or (isinstance(short, float) and short.is_integer())
    if short is not None and (not whole or isinstance(short, bool) or not MIN_SHORT_SIDE <= short <= MAX_SHORT_SIDE):
        raise bad(f"input.train_short_side (the short side, in pixels, of the images the model was trained on) "
                  f"must be a whole number from {MIN_SHORT_SIDE} to {MAX_SHORT_SIDE}, got {short!r}")


def card_labelset(card: dict, source: str | Path = "model card") -> LabelSet:
    try:
        return LabelSet.from_dict(card["labelset"], source=f"{source} (labelset)")
    except KeyError:
        raise ModelError(f"{source}: the model card has no labelset") from None
    except (LabelSetError, TypeError, ValueError) as e:
        raise ModelError(f"{source}: invalid label set in the model card: {e}") from None


@dataclass(frozen=True)
class InputTransform:
    """The card's input normalisation, applied to N,3,H,W RGB pixel tensors (0..255, any dtype)."""

    channel_order: str = "RGB"
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    resize: float = 1.0  # images are scaled by this factor before the network
    _consts: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_card(cls, card: dict, source: str | Path = "model card") -> InputTransform:
        inp = card.get("input") if isinstance(card, dict) else None
        _check_input(inp, lambda msg: ModelError(f"{source}: {msg}"))
        return cls(channel_order=inp["channel_order"], scale=float(inp["scale"]),
                   mean=tuple(float(v) for v in inp["mean"]), std=tuple(float(v) for v in inp["std"]),
                   resize=float(inp.get("resize", 1.0)))

    def _on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = str(device)
        if key not in self._consts:
            mean = torch.tensor(self.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
            std = torch.tensor(self.std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
            self._consts[key] = (mean, std)
        return self._consts[key]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised float32 N,3,H,W on x's device."""
        x = x.float()
        if self.channel_order == "BGR":
            x = x.flip(1)
        mean, std = self._on(x.device)
        return (x * self.scale - mean) / std

    def numpy(self, images: list[np.ndarray]) -> np.ndarray:
        """The same float32 arithmetic in numpy: N,3,H,W from same-size HxWx3 uint8 images (on a
        CPU this is cheaper than torch's thread pool for the same work)."""
        x = np.stack(images).astype(np.float32)
        if self.channel_order == "BGR":
            x = x[..., ::-1]
        x *= np.float32(self.scale)
        x -= np.asarray(self.mean, np.float32)
        x /= np.asarray(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def scaled_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of an image after the `resize` factor."""
        return max(1, round(width * self.resize)), max(1, round(height * self.resize))
