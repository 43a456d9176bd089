"""The settings of a training run, and recipe files (TOML or JSON) holding them.

A `TrainConfig` is plain data: it is written into the model card and beside
the checkpoints (`train-config.json`), so `segstudio train --config that-file`
reruns the same recipe. Recipe keys are the field names below; unknown keys
are an error naming the file, so a typo never silently changes a run.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from segstudio.core.errors import SegstudioError


class ConfigError(SegstudioError, ValueError):
    """A recipe or option value that cannot be used."""


OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("poly", "step", "constant")
REDUCTIONS = ("valid", "mean")
SELECT_BY = ("mean_iou", "pixel_accuracy", "mean_accuracy")
CLASS_WEIGHTS = ("none", "median-freq", "sqrt-median-freq")
PRETRAINED = (None, "imagenet", "none")

# The recipe a pretrained-encoder architecture starts from when --arch / a recipe names it (or
# nothing names an architecture): chosen on the CamVid 0006R0 hold-out (recipes/README.md).
PRETRAINED_RECIPE = {
    "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-4, "encoder_lr_mult": 0.1,
    "crop": "320x320", "aug_scale": (0.5, 1.25), "hflip": True, "color_jitter": 0.2, "gamma": 0.2,
    "class_weights": "sqrt-median-freq", "batch_size": 8, "short_side": 360,
    # the poly schedule runs over the 10 minutes; the epoch cap only ends runs on a handful of images
    # early (20 images: capped at 200 epochs the run stopped at 6 min with car IoU 65.8, by time 68.9)
    "epochs": 1000, "max_minutes": 10.0,
}


def arch_defaults(arch: str | None) -> dict:
    """Settings that differ from the built-in defaults for `arch` (a pretrained encoder trains
    with AdamW, a lower encoder learning rate and crops; the VGG networks keep the old ones)."""
    from segstudio.nets import PRETRAINED_ARCHS

    return dict(PRETRAINED_RECIPE) if arch in PRETRAINED_ARCHS else {}


@dataclass
class TrainConfig:
    # model
    arch: str | None = None  # None: the --init checkpoint's architecture
    width: float | None = None
    arch_options: dict = field(default_factory=dict)
    name: str | None = None  # model name in the card (default: arch-labelset)
    init: str | None = None  # checkpoint to fine-tune from (partial loading)
    pretrained: str | None = None  # "imagenet" or "none"; None: ImageNet where the arch has such weights
    # data
    data: str | None = None  # data root, VOC or CamVid layout
    images: str | None = None
    masks: str | None = None
    train_list: str | None = None
    val_list: str | None = None
    val_images: str | None = None
    val_masks: str | None = None
    val_fraction: float = 0.0
    val_sequences: list[str] | None = None  # hold out these sequences' training frames (stem prefix)
    labels: str | dict | None = None  # preset name, label-set file, or a LabelSet dict
    # resolution and augmentation
    scale: float | None = None  # base resize factor applied to every image
    size: str | None = None  # or a fixed base size "WxH"
    short_side: int | None = None  # or resize every image to this short side (images of any size)
    crop: str | None = None  # random crop "WxH" of the (scaled) image
    aug_scale: tuple[float, float] = (1.0, 1.0)  # random rescale range
    hflip: bool = False
    color_jitter: float = 0.0  # max relative change of brightness, contrast, saturation
    gamma: float = 0.0  # gamma in [exp(-g), exp(g)]
    blur: float = 0.0  # probability of a slight Gaussian blur
    noise: float = 0.0  # max std of Gaussian noise (0..255 levels)
    # optimisation
    epochs: int = 10
    batch_size: int = 4
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    encoder_lr_mult: float = 1.0  # learning-rate factor of a pretrained encoder's parameters
    lr_schedule: str = "poly"
    poly_power: float = 0.9
    step_size: int = 30  # epochs between LR drops (step schedule)
    step_gamma: float = 0.1
    class_weights: str | list = "none"  # "none", "median-freq", "sqrt-median-freq" or one weight per class
    class_weight_cap: float | None = None  # clip class weights to at most this
    loss_reduction: str = "valid"  # "valid": Caffe's sum / valid pixels; "mean": PyTorch's weighted mean
    # evaluation and checkpoints
    val_every: int = 1
    select_by: str = "mean_iou"
    bn_recompute: bool = True
    out: str | None = None
    # run
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool | None = None  # NHWC model and batches (None: on the CPU, where it measured faster)
    workers: int | None = None  # DataLoader workers (None: 0 when cached, else up to 2)
    threads: int | None = None  # torch CPU threads (None: torch's default)
    cache: bool | None = None  # keep decoded images in memory (None: when they fit in 4 GB)
    max_minutes: float | None = None  # time budget: the poly schedule runs over it, final evaluation included

    def validate(self) -> "TrainConfig":
        def bad(msg):
            raise ConfigError(msg)

        if self.optimizer not in OPTIMIZERS:
            bad(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.lr_schedule not in SCHEDULES:
            bad(f"lr_schedule must be one of {', '.join(SCHEDULES)}, got {self.lr_schedule!r}")
        if self.loss_reduction not in REDUCTIONS:
            bad(f"loss_reduction must be one of {', '.join(REDUCTIONS)}, got {self.loss_reduction!r}")
        if self.select_by not in SELECT_BY:
            bad(f"select_by must be one of {', '.join(SELECT_BY)}, got {self.select_by!r}")
        if self.epochs < 1:
            bad(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            bad(f"batch_size must be at least 1, got {self.batch_size}")
        if not self.lr > 0:
            bad(f"lr must be positive, got {self.lr}")
        if self.scale is not None and not 0 < self.scale <= 4:
            bad(f"scale must be in (0, 4], got {self.scale}")
        if self.short_side is not None and not (isinstance(self.short_side, int) and 8 <= self.short_side <= 8192):
            bad(f"short_side must be a whole number of pixels in 8..8192, got {self.short_side!r}")
        if not 0 <= self.val_fraction < 1:
            bad(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        lo, hi = self.aug_scale
        if not 0 < lo <= hi:
            bad(f"aug_scale must be two numbers 0 < min <= max, got {self.aug_scale}")
        if isinstance(self.class_weights, str) and self.class_weights not in CLASS_WEIGHTS:
            bad(f"class_weights must be one of {', '.join(CLASS_WEIGHTS)} or a list of numbers, "
                f"got {self.class_weights!r}")
        if self.class_weight_cap is not None and not self.class_weight_cap > 0:
            bad(f"class_weight_cap must be positive, got {self.class_weight_cap}")
        if not (self.gamma >= 0 and 0 <= self.blur <= 1 and self.noise >= 0 and self.color_jitter >= 0):
            bad("color_jitter, gamma and noise must be >= 0 and blur a probability in [0, 1]")
        if self.pretrained not in PRETRAINED:
            bad(f"pretrained must be one of {', '.join(p for p in PRETRAINED if p)}, got {self.pretrained!r}")
        if not self.encoder_lr_mult >= 0:
            bad(f"encoder_lr_mult must be >= 0, got {self.encoder_lr_mult}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            bad(f"max_minutes must be positive, got {self.max_minutes}")
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["aug_scale"] = list(self.aug_scale)
        return d

    @classmethod
    def from_dict(cls, data: dict, source: str = "recipe") -> "TrainConfig":
        return cls().updated(data, source)

    def updated(self, data: dict, source: str = "recipe") -> "TrainConfig":
        """A copy with the keys of `data` (None values skipped) replacing these settings."""
        names = {f.name: f for f in dataclasses.fields(self)}
        unknown = [k for k in data if k.replace("-", "_") not in names]
        if unknown:
            raise ConfigError(f"{source}: unknown setting(s) {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(sorted(names))}")
        values = {}
        for k, v in data.items():
            k = k.replace("-", "_")
            if v is None:
                continue
            if k == "aug_scale":
                v = _pair(v, source)
            if k == "val_sequences" and isinstance(v, str):
                v = [x.strip() for x in v.split(",") if x.strip()]
            values[k] = v
        try:
            return dataclasses.replace(self, **values).validate()
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None
        except TypeError as e:
            raise ConfigError(f"{source}: {e}") from None


def _pair(v, source: str) -> tuple[float, float]:
    if isinstance(v, str):
        v = v.split(",")
    try:
        lo, hi = (float(x) for x in v)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: aug_scale must be two numbers 'min,max', got {v!r}") from None
    return lo, hi


def load_recipe(path: str | Path) -> dict:
    """The settings of a .toml or .json recipe (a JSON file may be a written train-config.json)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read recipe ({e.strerror or e})") from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not a valid recipe file ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a table of settings")
    data.pop("description", None)
    if isinstance(data.get("config"), dict):  # a written train-config.json
        data = data["config"]
    return data
