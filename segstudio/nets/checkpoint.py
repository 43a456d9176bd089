"""segstudio's own checkpoints: `<name>.safetensors` weights beside a `<name>.json` model card.

Saving and loading checkpoints (the card itself is `card.py`'s business), and
finding models by name in the shipped models folder and the user's models
folder; a user model overrides a shipped one of the same name. Foreign
PyTorch state dicts (.pth) are read without unpickling code and converted by
`weights.py`.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from segstudio import paths
from segstudio.core.atomic import atomic_path, atomic_write_text
from segstudio.core.errors import SegstudioError
from segstudio.core.labels import LabelSet
from segstudio.core.safe_json import load_json_file, loads_checked

from . import build_model
from .card import (CAFFE_INPUT, FORMAT_NAME, FORMAT_VERSION, IMAGENET_INPUT, card_labelset, make_card,
                   validate_card)
from .errors import ModelError, ModelNotFound
from .safeload import PICKLE_SUFFIXES, check_safetensors_header, load_pickled_state_dict, load_safetensors
from .weights import card_for_foreign_state_dict, convert_state_dict

WEIGHTS_SUFFIX = ".safetensors"
CARD_SUFFIX = ".json"
DEFAULT_MODEL_NAME = "fcn8s-lite0-camvid"
CARD_METADATA_KEY = "segstudio.card"
# re-exported: callers that save checkpoints build cards with these
__all__ = ["CAFFE_INPUT", "FORMAT_NAME", "FORMAT_VERSION", "IMAGENET_INPUT", "ModelInfo", "card_labelset",
           "card_path", "default_model", "find_models", "load_checkpoint", "make_card", "model_from_card",
           "read_card", "resolve_model", "save_checkpoint", "unreadable_models", "validate_card"]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path  # the .safetensors file
    card: dict

    @property
    def source(self) -> str:
        return "shipped" if self.path.parent == paths.shipped_models_dir() else "user"

    @property
    def labelset(self) -> LabelSet:
        return card_labelset(self.card, self.path)



def card_path(weights_path: str | Path) -> Path:
    return Path(weights_path).with_suffix(CARD_SUFFIX)


def read_card(path: str | Path) -> dict:
    """The validated card of a checkpoint (`path` is the .json or the weights file beside it)."""
    path = Path(path)
    _refuse_onnx(path)
    json_path = path if path.suffix == CARD_SUFFIX else card_path(path)
    if json_path.is_file():
        try:  # size and nesting limits: one hostile card must not break listing the models
            card = load_json_file(json_path, max_bytes=1 << 20)
        except SegstudioError as e:
            why = str(e).removeprefix(f"{json_path}: ")
            raise ModelError(f"{json_path}: cannot read the model card ({why})") from None
        return validate_card(card, json_path)
    if path.suffix == WEIGHTS_SUFFIX and path.is_file():
        # The card is also embedded in the weights file, in case the .json got lost (header only: no tensors read).
        meta = check_safetensors_header(path).get("__metadata__") or {}
        if isinstance(meta.get(CARD_METADATA_KEY), str):
            try:
                card = loads_checked(meta[CARD_METADATA_KEY].encode("utf-8"), path)
            except SegstudioError as e:
                why = str(e).removeprefix(f"{path}: ")
                raise ModelError(f"{path}: cannot read the model card embedded in the weights ({why})") from None
            return validate_card(card, path)
    raise ModelError(f"{json_path}: model card not found (every checkpoint needs its .json card)")


# --- saving ----------------------------------------------------------------------------------


def _stem_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix in (WEIGHTS_SUFFIX, CARD_SUFFIX):
        path = path.with_suffix("")
    return path


def _beside(stem: Path, suffix: str) -> Path:
    """`stem` + suffix; unlike with_suffix, keeps dots in model names (fcn8s-w0.3-camvid)."""
    return stem.with_name(stem.name + suffix)


def save_checkpoint(path: str | Path, model: nn.Module, card: dict, half: bool = False) -> Path:
    """Write `<stem>.safetensors` and `<stem>.json`; return the .safetensors path.

    The card's name becomes the file stem (that is the model's name). With
    `half`, floating tensors are stored as float16 (half the size) and read
    back as float32.
    """
    from safetensors.torch import save_file

    stem = _stem_path(path)
    card = copy.deepcopy(card)
    card["name"] = stem.name
    validate_card(card, _beside(stem, CARD_SUFFIX))
    _check_model_matches_card(model, card, _beside(stem, CARD_SUFFIX))
    tensors = {}
    for key, t in model.state_dict().items():
        t = t.detach().to("cpu")
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        tensors[key] = t.contiguous()
    card["weights_dtype"] = "float16" if half else "float32"
    weights = _beside(stem, WEIGHTS_SUFFIX)
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT_NAME, CARD_METADATA_KEY: json.dumps(card)})
    atomic_write_text(_beside(stem, CARD_SUFFIX), json.dumps(card, indent=2) + "\n")
    return weights


def _check_model_matches_card(model: nn.Module, card: dict, source) -> None:
    arch = getattr(model, "arch", None)
    if arch is not None and arch != card["arch"]:
        raise ModelError(f"{source}: the card says arch {card['arch']!r} but the model is {arch!r}")
    k = getattr(model, "num_classes", None)
    if k is not None and k != card["num_classes"]:
        raise ModelError(f"{source}: the card's label set has {card['num_classes']} classes but the "
                         f"model predicts {k}")


# --- loading ---------------------------------------------------------------------------------


def model_from_card(card: dict) -> nn.Module:
    return build_model(card["arch"], card["num_classes"], card["width"], **card.get("arch_options", {}))


def load_state_strict(model: nn.Module, state: dict[str, torch.Tensor], source) -> None:
    """Load `state` into `model`, or say which keys are missing, unexpected or of the wrong shape."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} (model needs {tuple(expected[k].shape)})"
             for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        parts = []
        for what, keys in (("shape mismatch", wrong), ("missing", missing), ("unexpected", unexpected)):
            if keys:
                more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
                parts.append(f"{what}: {', '.join(keys[:5])}{more}")
        desc = f"{getattr(model, 'arch', type(model).__name__)} width {getattr(model, 'width', '?')}"
        raise ModelError(f"{source}: the weights do not fit {desc} with "
                         f"{getattr(model, 'num_classes', '?')} classes; " + "; ".join(parts))
    with torch.no_grad():
        for k, t in expected.items():
            t.copy_(state[k].to(t.dtype))


def load_checkpoint(path_or_name: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode on `device`, card) for a model name or a checkpoint path.

    A .safetensors needs its .json card beside it. A .pth/.pt is read only with
    weights_only=True; without a card beside it, it must be a recognised
    state dict (torchfcn's Caffe-converted FCNs), whose card is inferred.
    """
    path = resolve_model(path_or_name)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        state = load_pickled_state_dict(path)
        if card_path(path).is_file():
            card = read_card(card_path(path))
        else:
            card = card_for_foreign_state_dict(state, path)
        state, _ = convert_state_dict(state, card["arch"])
    else:
        card = read_card(path)
        state, _ = load_safetensors(path)
    model = model_from_card(card)
    load_state_strict(model, state, path)
    model.to(device).eval()
    return model, card


# --- finding models --------------------------------------------------------------------------


def _scan(folder: Path) -> list[ModelInfo]:
    found = []
    if not folder.is_dir():
        return found
    for weights in sorted(folder.glob("*" + WEIGHTS_SUFFIX)):
        try:
            card = read_card(weights)
        except ModelError:
            continue  # a half-copied or foreign file is not a model; `segstudio models` reports it
        found.append(ModelInfo(weights.stem, weights, card))
    return found


def find_models() -> list[ModelInfo]:
    """Models in the shipped folder, then the user's folder; a user model overrides a shipped one."""
    by_name: dict[str, ModelInfo] = {}
    for folder in (paths.shipped_models_dir(), paths.user_models_dir()):
        for info in _scan(folder):
            by_name[info.name] = info
    return list(by_name.values())


def unreadable_models() -> list[tuple[Path, str]]:
    """(weights path, problem) for files in the model folders that are not usable models."""
    bad = []
    for folder in (paths.shipped_models_dir(), paths.user_models_dir()):
        if folder.is_dir():
            for weights in sorted(folder.glob("*" + WEIGHTS_SUFFIX)):
                try:
                    read_card(weights)
                except ModelError as e:
                    bad.append((weights, str(e)))
    return bad


def resolve_model(name_or_path: str | Path) -> Path:
    """The weights file of a model name or of a path to a .safetensors / .json / .pth file."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    looks_like_path = (isinstance(name_or_path, Path) or os.sep in text or "/" in text
                       or path.suffix.lower() in (WEIGHTS_SUFFIX, CARD_SUFFIX, *PICKLE_SUFFIXES))
    if path.is_file() or looks_like_path:
        if not path.is_file():
            raise ModelNotFound(f"{path}: no such checkpoint file")
        _refuse_onnx(path)
        if path.suffix == CARD_SUFFIX:
            for suffix in (WEIGHTS_SUFFIX, *PICKLE_SUFFIXES):
                if path.with_suffix(suffix).is_file():
                    return path.with_suffix(suffix)
            raise ModelNotFound(f"{path}: no weights file ({WEIGHTS_SUFFIX}) beside this model card")
        return path
    models = find_models()
    for info in models:
        if info.name == text:
            return info.path
    if models:
        available = ", ".join(m.name for m in models)
    else:
        available = (f"none (no models in {paths.shipped_models_dir()} or {paths.user_models_dir()}; "
                     "train one with 'segstudio train' or pass a checkpoint path)")
    raise ModelNotFound(f"no model named {text!r}; available: {available}")


def _refuse_onnx(path: Path) -> None:
    """ModelError for an ONNX file given as a model: segstudio predicts from checkpoints, whatever the ONNX."""
    if path.suffix.lower() == ".onnx":
        raise ModelError(f"{path}: an ONNX file is not a segstudio checkpoint; segstudio loads a .safetensors "
                         "checkpoint with its .json card (or a .pth state dict). ONNX is what 'segstudio "
                         "export-model' writes from a checkpoint, for other programs")


def default_model() -> ModelInfo | None:
    models = find_models()
    for info in models:
        if info.name == DEFAULT_MODEL_NAME:
            return info
    return models[0] if models else None
