"""What a training run writes: checkpoints with their model card, the resumable training
state, and the card's `training` section (portable: names, not the trainer machine's paths).

`CheckpointMixin` is a part of `Trainer` (it uses the run's state: cfg, split, history...)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

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


class CheckpointMixin:
    def _save(self, kind: str, model: nn.Module, card: dict, metrics: dict | None, epoch: int) -> Path | None:
        if not self.ctx.is_main:
            return None
        from .checkpoint import save_checkpoint

        card = copy.deepcopy(card)
        card["training"] = self._training_section(epoch, kind)
        # The predictor resizes images by this factor first: a model trained at half size predicts at half size.
        card["input"].pop("resize", None)
        if self.input_resize != 1.0:
            card["input"]["resize"] = self.input_resize
        if self.short_side:
            card["input"]["train_short_side"] = self.short_side
        if metrics:
            card["metrics"] = figures(metrics, self.labelset, self.split.val_name, len(self.split.val),
                                      self._resolution_text())
        extra = self.extra_metrics.get(kind)
        if extra:
            card["metrics_extra"] = {name: figures(m, self.labelset, name, len(self.split.extra[name]),
                                                   self._resolution_text()) for name, m in extra.items()}
        path = save_checkpoint(self.ckpt_path(kind), model, card)
        if kind == "best":
            self.best_saved = Path(path)
        self._emit(Progress("checkpoint", epoch=epoch, epochs=self.cfg.epochs, path=str(path),
                            message=kind, elapsed_s=time.monotonic() - self.t0))
        return Path(path)

    def ckpt_path(self, kind: str) -> Path:
        """best: `<name>.safetensors`; last: `<name>-last.safetensors`, or `<name>.safetensors` when
        there is no validation split (then the last weights are the model)."""
        if kind == "last" and self.split.val:
            return self.out / f"{self.name}-last.safetensors"
        return self.out / f"{self.name}.safetensors"

    def state_path(self) -> Path:
        p = self.ckpt_path("last")
        return p.with_name(p.name[: -len(".safetensors")] + STATE_SUFFIX)

    def _resolution_text(self) -> str:
        if self.cfg.size:
            return self.cfg.size
        if self.cfg.short_side:
            return f"short side {self.cfg.short_side}"
        return f"scale {self.cfg.scale}" if self.cfg.scale else "full"

    def _training_section(self, epoch: int, kind: str) -> dict:
        return {
            "recipe": portable_recipe(self.cfg.to_dict()),
            "data": {**self.split.to_dict(), "class_weights": self.class_weights},
            # Images were resized by this before training; predict at the same scale for best results.
            "resolution": ({"size": list(parse_size(self.cfg.size))} if self.cfg.size
                           else {"short_side": self.cfg.short_side} if self.cfg.short_side
                           else {"scale": self.cfg.scale or 1.0}),
            "pretrained": self.card.get("training", {}).get("pretrained"),
            "epochs": epoch,
            "epochs_planned": self.cfg.epochs,
            "checkpoint": kind,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "hardware": self.hardware,
            "wall_time_s": round(self.prior_wall + time.monotonic() - self.t0, 1),
            "started": self.started,
            "saved": utc_now(),
            "init": Path(self.cfg.init).name if self.cfg.init else None,
            "bn_recomputed": kind in self.bn_done,
        }

    def _save_state(self, optimizer, epoch: int) -> None:
        if not self.ctx.is_main:
            return
        state = {"optimizer": optimizer.state_dict(), "epoch": epoch, "best_score": self.best_score,
                 "best_epoch": self.best_epoch, "history_json": json.dumps(self.history),
                 "wall_time_s": self.prior_wall + time.monotonic() - self.t0,
                 "started": self.started, "config_json": json.dumps(self.cfg.to_dict())}
        with atomic_open(self.state_path(), "wb") as f:
            torch.save(state, f)

    def _load_state(self, optimizer) -> int:
        path = self.resume_path.with_name(self.resume_path.stem + STATE_SUFFIX)
        if not path.is_file():
            raise TrainingError(f"{path}: no training state beside the checkpoint to resume from "
                                "(resume from the -last checkpoint, or the only one when there was no validation)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise TrainingError(f"{path}: cannot read training state ({e})") from None
        optimizer.load_state_dict(state["optimizer"])
        self.best_score = float(state["best_score"])
        self.best_epoch = int(state["best_epoch"])
        self.history = json.loads(state["history_json"])
        self.prior_wall = float(state["wall_time_s"])
        self.started = str(state["started"])
        return int(state["epoch"])
