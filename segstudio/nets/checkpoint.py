"""segstudio's own checkpoints: `<name>.safetensors` weights beside a `<name>.json` model card.

The card says everything needed to rebuild and use the model without code:
architecture, width and options, the label set (names, colours, ignore
index), input normalisation and channel order, and what it was trained on
and how well it scored. Models are found by name in the shipped `models/`
folder and the user's models folder; a user model overrides a shipped one of
the same name.

Input normalisation (`card["input"]`): pixels 0..255 are put in
`channel_order` ("RGB" or "BGR"), multiplied by `scale`, then `mean` is
subtracted and the result divided by `std`, per channel in that order.
"""

from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from segstudio import paths
from segstudio.core.atomic import atomic_path, atomic_write_text
from segstudio.core.errors import LabelSetError
from segstudio.core.labels import LabelSet

from . import ARCHS, build_model
from .errors import ModelError, ModelNotFound
from .safeload import PICKLE_SUFFIXES, load_pickled_state_dict, load_safetensors

FORMAT_NAME = "segstudio.model"
FORMAT_VERSION = 1
WEIGHTS_SUFFIX = ".safetensors"
CARD_SUFFIX = ".json"
DEFAULT_MODEL_NAME = "segnet-basic-camvid"
CARD_METADATA_KEY = "segstudio.card"

IMAGENET_INPUT = {"channel_order": "RGB", "scale": 1 / 255,
                  "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
# The convention of the original Caffe FCN / VGG weights (mean in B, G, R order).
CAFFE_INPUT = {"channel_order": "BGR", "scale": 1.0,
               "mean": [104.00698793, 116.66876762, 122.67891434], "std": [1.0, 1.0, 1.0]}


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


# --- model cards -----------------------------------------------------------------------------


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
    if not isinstance(resize, (int, float)) or isinstance(resize, bool) or not 0 < resize <= 8:
        raise bad(f"input.resize (factor applied to images before the network) must be in (0, 8], got {resize!r}")


def card_labelset(card: dict, source: str | Path = "model card") -> LabelSet:
    try:
        return LabelSet.from_dict(card["labelset"], source=f"{source} (labelset)")
    except KeyError:
        raise ModelError(f"{source}: the model card has no labelset") from None
    except (LabelSetError, TypeError, ValueError) as e:
        raise ModelError(f"{source}: invalid label set in the model card: {e}") from None


def card_path(weights_path: str | Path) -> Path:
    return Path(weights_path).with_suffix(CARD_SUFFIX)


def read_card(path: str | Path) -> dict:
    """The validated card of a checkpoint (`path` is the .json or the weights file beside it)."""
    path = Path(path)
    json_path = path if path.suffix == CARD_SUFFIX else card_path(path)
    if json_path.is_file():
        try:
            card = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelError(f"{json_path}: cannot read the model card ({e})") from None
        return validate_card(card, json_path)
    if path.suffix == WEIGHTS_SUFFIX and path.is_file():
        # The card is also embedded in the weights file, in case the .json got lost.
        _, meta = load_safetensors(path)
        if CARD_METADATA_KEY in meta:
            return validate_card(json.loads(meta[CARD_METADATA_KEY]), path)
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
            from .weights import card_for_foreign_state_dict

            card = card_for_foreign_state_dict(state, path)
        from .weights import convert_state_dict

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


def default_model() -> ModelInfo | None:
    models = find_models()
    for info in models:
        if info.name == DEFAULT_MODEL_NAME:
            return info
    return models[0] if models else None
