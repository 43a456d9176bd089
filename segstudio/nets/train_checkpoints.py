"""What a training run writes: checkpoints with their model card, the resumable training
state, and the card's `training` section (portable: names, not the trainer machine's paths).

A `Trainer` holds one `CheckpointStore`: the store knows where the run writes and the fixed
facts of the run (`RunInfo`: settings, data, label set, resolution), and reads the counters
the trainer keeps in its `RunRecord` (history, best epoch, wall time) when it writes."""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from segstudio.core.atomic import atomic_open

from .data import parse_size
from .train_eval import FIGURES
from .train_report import Progress, TrainingError, utc_now

STATE_SUFFIX = ".state.pt"
PATH_KEYS = ("data", "labels", "images", "masks", "train_list", "val_list", "val_images", "val_masks", "init", "out")


def portable_recipe(cfg: dict) -> dict:
    """The recipe with paths reduced to their last component (a data set's folder name, a list's
    file name): the card says which data, not where it lay on the machine that trained."""
    out = dict(cfg)
    for key in PATH_KEYS:
        v = out.get(key)
        if isinstance(v, str) and ("/" in v or "\\" in v):
            out[key] = Path(v.replace("\\", "/")).name
    return out


def figures(metrics: dict, labelset, split: str, images: int, resolution: str) -> dict:
    return {**{k: metrics[k] for k in FIGURES}, "split": split, "images": images, "resolution": resolution,
            "per_class_iou": dict(zip(labelset.names, metrics.get("iou", [])))}


def resume_recipe(checkpoint: Path) -> dict | None:
    """The full settings (paths included) of the run that wrote `checkpoint`: from its training
    state, else the run's train-config.json, else the card's portable recipe."""
    state = checkpoint.with_name(checkpoint.stem + STATE_SUFFIX)
    if state.is_file():
        try:
            saved = torch.load(state, map_location="cpu", weights_only=True)
        except Exception as e:
            raise TrainingError(f"{state}: cannot read training state ({e})") from None
        if isinstance(saved, dict) and isinstance(saved.get("config_json"), str):
            return json.loads(saved["config_json"])
    written = checkpoint.parent / "train-config.json"
    if written.is_file():
        try:
            return json.loads(written.read_text(encoding="utf-8"))["config"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    from .checkpoint import read_card

    return read_card(checkpoint).get("training", {}).get("recipe")


def resolution_text(cfg) -> str:
    """The training resolution in a few words (log lines and the cards' metrics)."""
    if cfg.size:
        return cfg.size
    if cfg.short_side:
        return f"short side {cfg.short_side}"
    return f"scale {cfg.scale}" if cfg.scale else "full"


@dataclass
class RunRecord:
    """The counters of a run: updated by the trainer, saved in the training state and the cards."""

    t0: float = field(default_factory=time.monotonic)
    prior_wall: float = 0.0  # wall time of the sessions before a resume
    started: str = field(default_factory=utc_now)
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int = 0
    bn_done: set[str] = field(default_factory=set)  # checkpoint kinds whose BN statistics were recomputed
    extra_metrics: dict[str, dict] = field(default_factory=dict)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def wall_time(self) -> float:
        return self.prior_wall + self.elapsed()


@dataclass
class RunInfo:
    """What the cards say about a run that does not change while it runs."""

    cfg: object  # TrainConfig
    labelset: object
    split: object  # DataSplit
    input_resize: float
    short_side: int | None
    hardware: dict
    class_weights: list[float] | None
    pretrained: str | None


class CheckpointStore:
    """Writes a run's checkpoints (with their filled card) and its resumable training state."""

    def __init__(self, out: Path, name: str, info: RunInfo, record: RunRecord, is_main: bool,
                 emit: Callable[[Progress], None]):
        self.out, self.name, self.info, self.record = out, name, info, record
        self.is_main, self.emit = is_main, emit
        self.best_saved: Path | None = None

    def save(self, kind: str, model: nn.Module, card: dict, metrics: dict | None, epoch: int) -> Path | None:
        if not self.is_main:
            return None
        from .checkpoint import save_checkpoint

        info = self.info
        card = copy.deepcopy(card)
        card["training"] = self._training_section(epoch, kind)
        # The predictor resizes images by this factor first: a model trained at half size predicts at half size.
        card["input"].pop("resize", None)
        if info.input_resize != 1.0:
            card["input"]["resize"] = info.input_resize
        if info.short_side:
            card["input"]["train_short_side"] = info.short_side
        if metrics:
            card["metrics"] = figures(metrics, info.labelset, info.split.val_name, len(info.split.val),
                                      resolution_text(self.info.cfg))
        extra = self.record.extra_metrics.get(kind)
        if extra:
            card["metrics_extra"] = {name: figures(m, info.labelset, name, len(info.split.extra[name]),
                                                   resolution_text(self.info.cfg)) for name, m in extra.items()}
        path = save_checkpoint(self.path(kind), model, card)
        if kind == "best":
            self.best_saved = Path(path)
        self.emit(Progress("checkpoint", epoch=epoch, epochs=info.cfg.epochs, path=str(path),
                           message=kind, elapsed_s=self.record.elapsed()))
        return Path(path)

    def path(self, kind: str) -> Path:
        """best: `<name>.safetensors`; last: `<name>-last.safetensors`, or `<name>.safetensors` when
        there is no validation split (then the last weights are the model)."""
        if kind == "last" and self.info.split.val:
            return self.out / f"{self.name}-last.safetensors"
        return self.out / f"{self.name}.safetensors"

    def state_path(self) -> Path:
        p = self.path("last")
        return p.with_name(p.name[: -len(".safetensors")] + STATE_SUFFIX)

    def _training_section(self, epoch: int, kind: str) -> dict:
        cfg, info, rec = self.info.cfg, self.info, self.record
        return {
            "recipe": portable_recipe(cfg.to_dict()),
            "data": {**info.split.to_dict(), "class_weights": info.class_weights},
            # Images were resized by this before training; predict at the same scale for best results.
            "resolution": ({"size": list(parse_size(cfg.size))} if cfg.size
                           else {"short_side": cfg.short_side} if cfg.short_side
                           else {"scale": cfg.scale or 1.0}),
            "pretrained": info.pretrained,
            "epochs": epoch,
            "epochs_planned": cfg.epochs,
            "checkpoint": kind,
            "best_epoch": rec.best_epoch,
            "history": rec.history,
            "hardware": info.hardware,
            "wall_time_s": round(rec.wall_time(), 1),
            "started": rec.started,
            "saved": utc_now(),
            "init": Path(cfg.init).name if cfg.init else None,
            "bn_recomputed": kind in rec.bn_done,
        }

    def save_state(self, optimizer, epoch: int) -> None:
        if not self.is_main:
            return
        rec = self.record
        state = {"optimizer": optimizer.state_dict(), "epoch": epoch, "best_score": rec.best_score,
                 "best_epoch": rec.best_epoch, "history_json": json.dumps(rec.history),
                 "wall_time_s": rec.wall_time(), "started": rec.started,
                 "config_json": json.dumps(self.info.cfg.to_dict())}
        with atomic_open(self.state_path(), "wb") as f:
            torch.save(state, f)


def load_state(resume_path: Path, optimizer, record: RunRecord) -> int:
    """Restore the optimiser and the record from the state beside `resume_path`; the epochs done."""
    path = resume_path.with_name(resume_path.stem + STATE_SUFFIX)
    if not path.is_file():
        raise TrainingError(f"{path}: no training state beside the checkpoint to resume from "
                            "(resume from the -last checkpoint, or the only one when there was no validation)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise TrainingError(f"{path}: cannot read training state ({e})") from None
    try:
        optimizer.load_state_dict(state["optimizer"])
        record.best_score = float(state["best_score"])
        record.best_epoch = int(state["best_epoch"])
        record.history = json.loads(state["history_json"])
        record.prior_wall = float(state["wall_time_s"])
        record.started = str(state["started"])
        return int(state["epoch"])
    except (KeyError, TypeError, ValueError) as e:
        raise TrainingError(f"{path}: not a training state of this run ({type(e).__name__}: {e})") from None
