"""Importing the weights people already have into segstudio's networks.

Recognised state dicts:

- segstudio / Caffe names: our layers carry the Caffe names, so torchfcn's
  Caffe-converted FCN-32s/16s/8s (`conv1_1` ... `fc7`, `score_fr`,
  `score_pool3/4`, `upscore*`) load as they are. Their input convention is
  BGR, 0..255, Caffe mean subtracted (`CAFFE_INPUT`).
- torchvision VGG16 (`features.{0,2,...,28}`, `classifier.0/3`): the 13 convs
  go to conv1_1 ... conv5_3 of an FCN or SegNet encoder, `classifier.0/3`
  become fc6 (reshaped to 4096x512x7x7) and fc7 of an FCN. Input: RGB in
  [0, 1] with ImageNet mean/std (`IMAGENET_INPUT`).
- torchvision VGG16-BN (convs at `features.{0,3,7,...,40}`, BN at index+1):
  convs and BNs go to a SegNet encoder; into an FCN (which has no BN) each BN
  is folded into its conv, exact in eval mode.

`load_partial` copies whatever fits and reports the rest, for fine-tuning to
another class count: the classifier layers are re-initialised, all else kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from segstudio.core.labels import LabelSet, preset
from segstudio.core.palette import voc_color

from .card import CAFFE_INPUT, IMAGENET_INPUT, make_card
from .errors import ModelError
from .fcn import VGG16_CONV_NAMES

VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
VGG16_BN_CONV_INDICES = (0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40)
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
BN_EPS = 1e-5


@dataclass
class LoadReport:
    """What `load_partial` did: model keys loaded / re-initialised, source keys skipped and why."""

    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reinitialised: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors, re-initialised {len(self.reinitialised)}, "
                 f"skipped {len(self.skipped)} from the file"]
        if self.reinitialised:
            lines.append("re-initialised: " + ", ".join(self.reinitialised))
        for k in self.skipped:
            lines.append(f"skipped {k}: {self.reasons.get(k, '')}")
        return "\n".join(lines)


@dataclass
class ImportInfo:
    kind: str  # "segstudio", "torchvision-vgg16", "torchvision-vgg16-bn"
    input_norm: dict | None  # the input convention those weights expect, when known
    unused: list[str] = field(default_factory=list)  # source keys the conversion had no place for


def detect_kind(state: dict[str, torch.Tensor]) -> str:
    if "features.1.running_mean" in state:
        return "torchvision-vgg16-bn"
    if "features.0.weight" in state and "features.2.weight" in state:
        return "torchvision-vgg16"
    return "segstudio"


def _fc_as_conv(w: torch.Tensor, in_ch: int) -> torch.Tensor:
    k = int(round((w.shape[1] / in_ch) ** 0.5))
    if k * k * in_ch != w.shape[1]:
        raise ModelError(f"classifier weight of shape {tuple(w.shape)} cannot be reshaped to "
                         f"{w.shape[0]}x{in_ch}xKxK")
    return w.reshape(w.shape[0], in_ch, k, k)


def _fold_bn(w: torch.Tensor, b: torch.Tensor, bn: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn["weight"] / torch.sqrt(bn["running_var"] + BN_EPS)
    return w * scale[:, None, None, None], (b - bn["running_mean"]) * scale + bn["bias"]


def convert_state_dict(state: dict[str, torch.Tensor], arch: str) -> tuple[dict[str, torch.Tensor], ImportInfo]:
    """`state` renamed (and reshaped / folded) to segstudio's keys for `arch`."""
    kind = detect_kind(state)
    if kind == "segstudio":
        caffe_fcn = arch.startswith("fcn") and "score_fr.weight" in state
        return dict(state), ImportInfo(kind, dict(CAFFE_INPUT) if caffe_fcn else None)
    if arch == "segnet-basic":
        raise ModelError(f"{kind} weights fit FCN and SegNet (VGG16 encoders), not segnet-basic")
    bn = kind == "torchvision-vgg16-bn"
    indices = VGG16_BN_CONV_INDICES if bn else VGG16_CONV_INDICES
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for name, i in zip(VGG16_CONV_NAMES, indices):
        try:
            w, b = state[f"features.{i}.weight"], state[f"features.{i}.bias"]
        except KeyError as e:
            raise ModelError(f"{kind} state dict lacks {e.args[0]}") from None
        bn_state = {k: state[f"features.{i + 1}.{k}"] for k in BN_KEYS if f"features.{i + 1}.{k}" in state}
        used.update([f"features.{i}.weight", f"features.{i}.bias"])
        if bn and arch != "segnet" and not arch.startswith("fcn"):
            bn_state = {}
        used.update(f"features.{i + 1}.{k}" for k in bn_state)
        if bn and arch.startswith("fcn"):
            w, b = _fold_bn(w, b, bn_state)
        out[f"{name}.weight"], out[f"{name}.bias"] = w, b
        if bn and arch == "segnet":
            for k, v in bn_state.items():
                out[f"{name}_bn.{k}"] = v
    if arch.startswith("fcn") and "classifier.0.weight" in state:
        out["fc6.weight"] = _fc_as_conv(state["classifier.0.weight"], out["conv5_3.weight"].shape[0])
        out["fc6.bias"] = state["classifier.0.bias"]
        out["fc7.weight"] = _fc_as_conv(state["classifier.3.weight"], state["classifier.3.weight"].shape[1])
        out["fc7.bias"] = state["classifier.3.bias"]
        used.update(f"classifier.{i}.{k}" for i in (0, 3) for k in ("weight", "bias"))
    unused = [k for k in state if k not in used]
    return out, ImportInfo(kind, dict(IMAGENET_INPUT), unused)


def load_partial(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> LoadReport:
    """Copy every tensor of `state_dict` whose key and shape fit; re-initialise the model's others.

    Keys are taken as they are (use `convert_state_dict` or `import_weights`
    for torchvision names). Layers left out are re-initialised the way
    `build_model` initialises them, so the result is the same whether the
    model was fresh or not.
    """
    report = LoadReport()
    own = model.state_dict()
    for key, src in state_dict.items():
        if key not in own:
            report.skipped.append(key)
            report.reasons[key] = "no such layer in the model"
        elif tuple(src.shape) != tuple(own[key].shape):
            report.skipped.append(key)
            report.reasons[key] = f"shape {tuple(src.shape)}, the model needs {tuple(own[key].shape)}"
    report.loaded = [k for k in own if k in state_dict and k not in report.reasons]
    report.reinitialised = [k for k in own if k not in report.loaded]
    modules = {k.split(".")[0] for k in report.reinitialised}
    if modules and hasattr(model, "initialise"):
        model.initialise(only=modules)
    with torch.no_grad():
        for k in report.loaded:
            own[k].copy_(state_dict[k].to(own[k].dtype))
    return report


def import_weights(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> tuple[LoadReport, ImportInfo]:
    """Recognise, convert and partially load `state_dict` into a segstudio model."""
    converted, info = convert_state_dict(state_dict, getattr(model, "arch", ""))
    report = load_partial(model, converted)
    for key in info.unused:
        report.skipped.append(key)
        report.reasons[key] = f"no place for it in {getattr(model, 'arch', 'the model')}"
    if not report.loaded:
        raise ModelError(f"none of the {len(state_dict)} tensors fit {getattr(model, 'arch', 'the model')} "
                         f"(first keys: {', '.join(list(state_dict)[:3])})")
    return report, info


def generic_labelset(num_classes: int) -> LabelSet:
    return LabelSet(tuple(f"class_{i}" for i in range(num_classes)),
                    tuple(voc_color(i) for i in range(num_classes)), name="imported")


def card_for_foreign_state_dict(state: dict[str, torch.Tensor], path: str | Path) -> dict:
    """A model card for a state dict that came without one (torchfcn's Caffe-converted FCNs)."""
    path = Path(path)
    if "score_fr.weight" not in state or "conv1_1.weight" not in state:
        raise ModelError(f"{path}: no model card ({path.with_suffix('.json').name}) beside it and not a "
                         "recognised FCN state dict; import it with segstudio.nets.weights.import_weights")
    if "score_pool3.weight" in state:
        arch = "fcn8s"
    elif "score_pool4.weight" in state:
        arch = "fcn16s"
    else:
        arch = "fcn32s"
    k = state["score_fr.weight"].shape[0]
    width = state["fc6.weight"].shape[0] / 4096 if "fc6.weight" in state else 1.0
    labelset = preset("voc") if k == 21 else generic_labelset(k)
    stem = path.stem.lower().replace("_", "").replace("-", "")
    options = {"at_once": True} if arch == "fcn8s" and "atonce" in stem else {}
    return make_card(arch, width, labelset, input_norm=dict(CAFFE_INPUT), name=path.stem,
                     arch_options=options, training={"source": f"imported from {path.name} (Caffe FCN)"})
