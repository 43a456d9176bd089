"""The trainer: trains or fine-tunes any registered network on image + mask folders.

`Trainer(config, progress=..., cancel=...).run()` does the whole job:
data (`data.py`), model (`build_model`, or a checkpoint partially loaded for
fine-tuning), loss (`train_loss.py`), optimiser and schedule
(`train_optim.py`), validation with the core confusion matrix, checkpoints in
segstudio's format with a filled model card, resume, a time budget,
cancellation between steps, and DistributedDataParallel under torchrun
(`train_dist.py`). Qt-free: the GUI and the CLI only supply callbacks.

Files written to `config.out` (rank 0 only; NAME is the model name, `--name`):
  NAME.safetensors / NAME.json            best validation figure so far (written as soon as an
                                          epoch improves); without validation, the latest weights
  NAME-last.safetensors / NAME-last.json  the latest weights (every epoch, on cancel and at the end)
  NAME-last.state.pt                      optimiser state and counters for resuming (tensors only;
                                          NAME.state.pt without validation)
  train-config.json                       the effective settings: `segstudio train --config` reruns them
  train-log.jsonl                         one JSON line per epoch
"""

from __future__ import annotations

import copy
import json
import math
import os
import platform
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from segstudio.core.atomic import atomic_open, atomic_write_text
from segstudio.core.errors import SegstudioError
from segstudio.core.labels import LabelSet, resolve_labelset
from segstudio.core.metrics import confusion_for, scores_from_matrix

from . import train_dist
from .data import (IGNORE, Augment, DataSplit, SegmentationDataset, class_pixel_counts, estimate_bytes,
                   find_data, median_frequency_weights, pad_collate, parse_size)
from .train_config import ConfigError, TrainConfig
from .train_loss import segmentation_loss
from .train_optim import lr_at, make_optimizer, set_lr

CACHE_LIMIT_BYTES = 4 << 30
STATE_SUFFIX = ".state.pt"


class TrainingError(SegstudioError, RuntimeError):
    """Training cannot start or continue (bad checkpoint to resume, diverged loss...)."""


@dataclass
class Progress:
    """One progress report; plain data, safe to send across threads.

    kind: "status" (message), "step" (loss, lr, images_per_s, eta_s), "epoch"
    (epoch finished: loss, val figures if validated), "checkpoint" (path),
    "done" (final figures)."""

    kind: str
    epoch: int = 0  # 1-based epoch being trained / just finished
    epochs: int = 0
    step: int = 0  # 1-based step within the epoch
    steps: int = 0
    loss: float | None = None
    lr: float | None = None
    images_per_s: float | None = None
    eta_s: float | None = None
    elapsed_s: float = 0.0
    val: dict | None = None  # pixel_accuracy, mean_accuracy, mean_iou, fw_iou
    path: str | None = None
    message: str = ""


@dataclass
class TrainResult:
    best_path: Path | None
    last_path: Path | None
    epochs_done: int
    stopped: str  # "finished", "cancelled", "time budget"
    best_metrics: dict = field(default_factory=dict)
    last_metrics: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    wall_time_s: float = 0.0


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _hardware(ctx: train_dist.DistContext) -> dict:
    hw = {"device": str(ctx.device), "world_size": ctx.world_size, "torch": torch.__version__,
          "cpu": platform.processor() or platform.machine(), "cpu_threads": torch.get_num_threads()}
    if ctx.device.type == "cuda":
        hw["gpu"] = torch.cuda.get_device_name(ctx.device)
    return hw


def _bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


class Trainer:
    """One training run. Construct, then call `run()` (blocking)."""

    def __init__(self, config: TrainConfig, progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None, resume: str | Path | None = None,
                 log: Callable[[str], None] | None = None):
        self.cfg = config.validate()
        self.progress_cb = progress
        self.cancel = cancel or threading.Event()
        self.resume_path = Path(resume) if resume else None
        if self.resume_path is not None and self.resume_path.is_dir():
            states = sorted(self.resume_path.glob("*" + STATE_SUFFIX))
            if len(states) != 1:
                raise TrainingError(f"{self.resume_path}: expected one *{STATE_SUFFIX} training state to resume "
                                    f"from, found {len(states)}; name the checkpoint instead")
            self.resume_path = states[0].with_name(states[0].name[: -len(STATE_SUFFIX)] + ".safetensors")
        if self.resume_path is not None and self.resume_path.suffix == ".json":
            self.resume_path = self.resume_path.with_suffix(".safetensors")
        self.log_cb = log

    # --- reporting (rank 0 only) ----------------------------------------------
    def _emit(self, p: Progress) -> None:
        if self.ctx.is_main and self.progress_cb is not None:
            self.progress_cb(p)

    def _log(self, msg: str) -> None:
        if self.ctx.is_main:
            if self.log_cb is not None:
                self.log_cb(msg)
            self._emit(Progress("status", message=msg, elapsed_s=time.monotonic() - self.t0))

    # --- setup ------------------------------------------------------------------
    def _load_labelset(self, init_card: dict | None) -> LabelSet:
        spec = self.cfg.labels
        if spec is None:
            if init_card is None:
                raise ConfigError("no label set: give --labels (voc, camvid or a file) or --init a checkpoint")
            from .checkpoint import card_labelset
            return card_labelset(init_card)
        if isinstance(spec, dict):
            return LabelSet.from_dict(spec, "config labels")
        return resolve_labelset(spec)

    def _build_model(self, labelset: LabelSet):
        from . import build_model
        from .checkpoint import card_path, load_checkpoint, make_card

        cfg = self.cfg
        self.init_report = None
        if self.resume_path is not None:
            return load_checkpoint(self.resume_path, device="cpu")
        input_norm, options = None, dict(cfg.arch_options)
        if cfg.init:
            from .weights import import_weights

            init_path = self._init_path()
            if init_path.suffix == ".safetensors" or card_path(init_path).is_file():
                src, init_card = load_checkpoint(init_path, device="cpu")
                state, input_norm = src.state_dict(), init_card.get("input")
                arch = cfg.arch or init_card["arch"]
                width = cfg.width if cfg.width is not None else init_card.get("width", 1.0)
                if not options and arch == init_card["arch"]:
                    options = dict(init_card.get("arch_options", {}))
            else:  # a bare state dict (torchvision VGG16 / VGG16-BN, torchfcn)
                from .safeload import load_state_dict_file

                state = load_state_dict_file(init_path)
                if not cfg.arch:
                    raise ConfigError(f"{init_path}: a bare state dict has no model card; give --arch")
                arch, width = cfg.arch, cfg.width if cfg.width is not None else 1.0
            model = build_model(arch, labelset.num_classes, width, **options)
            report, info = import_weights(model, state)
            input_norm = input_norm or info.input_norm
            self.init_report = report
            self._log(f"fine-tuning from {init_path}: {len(report.loaded)} tensors loaded, "
                      f"{len(report.reinitialised)} re-initialised, {len(report.skipped)} skipped")
        else:
            if not cfg.arch:
                raise ConfigError("no architecture: give --arch (fcn8s, segnet-basic, ...) or --init a checkpoint")
            arch, width = cfg.arch, cfg.width if cfg.width is not None else 1.0
            model = build_model(arch, labelset.num_classes, width, **options)
        card = make_card(arch, width, labelset, input_norm=input_norm, name=self.model_name(arch, labelset),
                         arch_options=options)
        return model, card

    def _init_path(self) -> Path:
        from .checkpoint import resolve_model

        return resolve_model(self.cfg.init)

    def model_name(self, arch: str, labelset: LabelSet) -> str:
        return self.cfg.name or f"{arch}-{labelset.name or 'custom'}"

    def _datasets(self, split: DataSplit, k: int):
        cfg = self.cfg
        size = parse_size(cfg.size) if cfg.size else None
        crop = parse_size(cfg.crop) if cfg.crop else None
        cache = cfg.cache
        if cache is None:
            cache = estimate_bytes(split.train + split.val, cfg.scale, size) < CACHE_LIMIT_BYTES
        aug = Augment(scale_min=cfg.aug_scale[0], scale_max=cfg.aug_scale[1], crop=crop, hflip=cfg.hflip,
                      color_jitter=cfg.color_jitter)
        train = SegmentationDataset(split.train, k, scale=cfg.scale, size=size, augment=aug, cache=cache,
                                    seed=cfg.seed)
        plain = SegmentationDataset(split.train, k, scale=cfg.scale, size=size, cache=False, seed=cfg.seed)
        plain._cache = train._cache  # same decoded pairs, no augmentation (BN statistics)
        val = SegmentationDataset(split.val, k, scale=cfg.scale, size=size, cache=cache, seed=cfg.seed)
        return train, plain, val, cache

    def _loader(self, ds, shuffle: bool, shard: bool) -> tuple[DataLoader, DistributedSampler | None]:
        cfg, ctx = self.cfg, self.ctx
        workers = cfg.workers
        if workers is None:
            workers = 0 if ds._cache is not None else min(2, max(0, (os.cpu_count() or 1) - 1))
        sampler = None
        pin = ctx.device.type == "cuda"
        if shuffle:
            sampler = DistributedSampler(ds, num_replicas=ctx.world_size if shard else 1,
                                         rank=ctx.rank if shard else 0, shuffle=True, seed=cfg.seed)
            loader = DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=workers,
                                collate_fn=pad_collate, persistent_workers=workers > 0, pin_memory=pin)
        else:
            idx = list(range(len(ds)))[ctx.rank::ctx.world_size] if shard else list(range(len(ds)))
            sub = torch.utils.data.Subset(ds, idx)
            loader = DataLoader(sub, batch_size=cfg.batch_size, shuffle=False, num_workers=workers,
                                collate_fn=pad_collate, pin_memory=pin)
        return loader, sampler

    def _normaliser(self, card: dict):
        inp = card.get("input") or {}
        bgr = str(inp.get("channel_order", "RGB")).upper() == "BGR"
        scale = float(inp.get("scale", 1.0))
        mean = torch.tensor(inp.get("mean", [0.0, 0.0, 0.0]), dtype=torch.float32, device=self.ctx.device)
        std = torch.tensor(inp.get("std", [1.0, 1.0, 1.0]), dtype=torch.float32, device=self.ctx.device)
        mean, std = mean.view(1, 3, 1, 1), std.view(1, 3, 1, 1)

        def norm(x: torch.Tensor) -> torch.Tensor:
            x = x.to(self.ctx.device, non_blocking=True).float()
            if bgr:
                x = x.flip(1)
            return (x * scale - mean) / std

        return norm

    def _class_weights(self, train_ds: SegmentationDataset, labelset: LabelSet) -> torch.Tensor | None:
        cw = self.cfg.class_weights
        k = labelset.num_classes
        if isinstance(cw, str) and cw == "none":
            return None
        if isinstance(cw, str):  # median-freq, from the full-resolution training masks
            counts, totals = class_pixel_counts((s.mask for s in train_ds.samples), k)
            w = median_frequency_weights(counts, totals)
            self._log("median-frequency class weights: " + " ".join(f"{v:.4f}" for v in w))
        else:
            w = np.asarray(cw, np.float64)
            if w.shape != (k,):
                raise ConfigError(f"class_weights has {w.size} values but the label set has {k} classes")
            if (w < 0).any():
                raise ConfigError("class_weights must not be negative")
        self.class_weights = [float(v) for v in w]
        return torch.tensor(w, dtype=torch.float32, device=self.ctx.device)

    # --- evaluation ---------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader: DataLoader, norm, k: int) -> dict:
        model.eval()
        matrix = np.zeros((k, k + 1), np.int64)
        for x, y, _ in loader:
            with self._autocast():
                logits = model(norm(x))
            pred = logits.argmax(1).to(torch.uint8).cpu().numpy()
            gt = y.numpy()
            for p, g in zip(pred, gt):
                matrix += confusion_for(np.minimum(g, IGNORE).astype(np.uint8), p, k)
        m = torch.from_numpy(matrix)
        matrix = self.ctx.all_reduce_sum(m.to(self.ctx.device)).cpu().numpy()
        s = scores_from_matrix(matrix)
        out = {"pixel_accuracy": s.pixel_accuracy, "mean_accuracy": s.mean_accuracy,
               "mean_iou": s.mean_iou, "fw_iou": s.fw_iou,
               "iou": [None if math.isnan(v) else float(v) for v in s.iou]}
        return out

    @torch.no_grad()
    def recompute_bn(self, model: nn.Module, loader: DataLoader, norm) -> bool:
        """Replace BN running statistics by their average over the (un-augmented) training set."""
        bns = _bn_layers(model)
        if not bns:
            return False
        momenta = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over all batches
        model.train()
        for x, _, _ in loader:
            if self.cancel.is_set():
                break
            with self._autocast():
                model(norm(x))
        for m, mom in zip(bns, momenta):
            m.momentum = mom
            if self.ctx.distributed:
                for buf in (m.running_mean, m.running_var):
                    self.ctx.all_reduce_sum(buf)
                    buf /= self.ctx.world_size
        model.eval()
        return True

    def _autocast(self):
        if self.ctx.device.type == "cuda" and self.cfg.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    # --- checkpoints ---------------------------------------------------------------
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
        if metrics:
            card["metrics"] = {**{k: metrics[k] for k in ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou")},
                               "split": "validation", "images": len(self.split.val),
                               "resolution": self._resolution_text(),
                               "per_class_iou": dict(zip(self.labelset.names, metrics.get("iou", [])))}
        path = save_checkpoint(self.ckpt_path(kind), model, card)
        if kind == "best":
            self.best_saved = Path(path)
        self._emit(Progress("checkpoint", epoch=epoch, epochs=self.cfg.epochs, path=str(path),
                            message=kind, elapsed_s=time.monotonic() - self.t0))
        return Path(path)

    def _input_resize(self) -> float:
        """The factor the predictor should shrink images by: --scale, or what --size means for
        training images that all have one size and aspect ratio (else 1: predict at full size)."""
        cfg = self.cfg
        if not cfg.size:
            return float(cfg.scale or 1.0)
        from segstudio.core.imageio import image_size

        w, h = parse_size(cfg.size)
        sizes = {image_size(s.image) for s in self.split.train}
        if len(sizes) == 1:
            (w0, h0), = sizes
            if abs(w / w0 - h / h0) < 0.01 * (w / w0):
                return round(w / w0, 6)
        return 1.0

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
        return f"scale {self.cfg.scale}" if self.cfg.scale else "full"

    def _training_section(self, epoch: int, kind: str) -> dict:
        cfg = self.cfg.to_dict()
        return {
            "recipe": cfg,
            "data": {**self.split.to_dict(), "class_weights": self.class_weights},
            # Images were resized by this before training; predict at the same scale for best results.
            "resolution": ({"size": list(parse_size(self.cfg.size))} if self.cfg.size
                           else {"scale": self.cfg.scale or 1.0}),
            "epochs": epoch,
            "epochs_planned": self.cfg.epochs,
            "checkpoint": kind,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "hardware": self.hardware,
            "wall_time_s": round(self.prior_wall + time.monotonic() - self.t0, 1),
            "started": self.started,
            "saved": _utc_now(),
            "init": self.cfg.init,
            "bn_recomputed": kind in self.bn_done,
        }

    def _save_state(self, optimizer, epoch: int) -> None:
        if not self.ctx.is_main:
            return
        state = {"optimizer": optimizer.state_dict(), "epoch": epoch, "best_score": self.best_score,
                 "best_epoch": self.best_epoch, "history_json": json.dumps(self.history),
                 "wall_time_s": self.prior_wall + time.monotonic() - self.t0,
                 "started": self.started}
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

    # --- the run ---------------------------------------------------------------------
    def run(self) -> TrainResult:
        self.ctx = train_dist.setup(self.cfg.device)
        threads = torch.get_num_threads()
        try:
            return self._run()
        finally:
            torch.set_num_threads(threads)  # the caller's process (GUI, tests) keeps its setting
            self.ctx.close()

    def _run(self) -> TrainResult:
        cfg, ctx = self.cfg, self.ctx
        self.t0 = time.monotonic()
        self.prior_wall = 0.0
        self.started = _utc_now()
        self.history: list[dict] = []
        self.best_score, self.best_epoch = -math.inf, 0
        self.bn_done: set[str] = set()
        self.best_saved: Path | None = None
        self.class_weights = None
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        _seed_everything(cfg.seed)
        if not cfg.out:
            raise ConfigError("no output folder: give --out DIR")
        self.out = Path(cfg.out)
        if ctx.is_main:
            self.out.mkdir(parents=True, exist_ok=True)

        from .checkpoint import card_labelset, card_path, read_card

        if self.resume_path is not None:
            labelset = card_labelset(read_card(self.resume_path))
        else:
            init_card = None
            if cfg.init:
                init_path = self._init_path()
                if init_path.suffix == ".safetensors" or card_path(init_path).is_file():
                    init_card = read_card(init_path)
            labelset = self._load_labelset(init_card)
        self.labelset = labelset
        k = labelset.num_classes

        self.split = find_data(cfg.data, images=cfg.images, masks=cfg.masks, train_list=cfg.train_list,
                               val_list=cfg.val_list, val_images=cfg.val_images, val_masks=cfg.val_masks,
                               val_fraction=cfg.val_fraction, seed=cfg.seed)
        model, card = self._build_model(labelset)
        self.name = card["name"] if self.resume_path is None else self.resume_path.stem.removesuffix("-last")
        card["name"] = self.name
        model.to(ctx.device)
        self.hardware = _hardware(ctx)
        self.input_resize = self._input_resize()
        train_ds, plain_ds, val_ds, cached = self._datasets(self.split, k)
        self._log(f"{card['arch']} width {card.get('width')} · {k} classes · "
                  f"{len(self.split.train)} training / {len(self.split.val)} validation images · "
                  f"{self._resolution_text()} · {ctx.device}"
                  + (f" · {ctx.world_size} processes" if ctx.distributed else ""))
        if ctx.distributed:
            print(f"[rank {ctx.rank}/{ctx.world_size}] {len(train_ds)} training images, "
                  f"shard of {math.ceil(len(train_ds) / ctx.world_size)}, device {ctx.device}", flush=True)
        if cached:
            self._log("decoding images into memory")
            train_ds.preload()
            val_ds.preload()
        weight = self._class_weights(train_ds, labelset)
        norm = self._normaliser(card)

        raw_model = model
        if ctx.distributed:
            model = nn.parallel.DistributedDataParallel(
                model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
        optimizer = make_optimizer(raw_model, cfg)
        start_epoch = 0
        if self.resume_path is not None:
            start_epoch = self._load_state(optimizer)
            self._log(f"resuming after epoch {start_epoch} of {cfg.epochs} (best {cfg.select_by} "
                      f"{self.best_score:.4f} at epoch {self.best_epoch})")
        if ctx.is_main:
            atomic_write_text(self.out / "train-config.json",
                              json.dumps({"config": cfg.to_dict()}, indent=2) + "\n")

        train_loader, sampler = self._loader(train_ds, shuffle=True, shard=True)
        plain_loader, _ = self._loader(plain_ds, shuffle=False, shard=True)
        val_loader, _ = self._loader(val_ds, shuffle=False, shard=True) if len(val_ds) else (None, None)
        steps = len(train_loader)
        budget = cfg.max_minutes * 60 if cfg.max_minutes else None
        step_times: list[float] = []
        val_time = 0.0
        stopped = "finished"
        epoch = start_epoch
        best_state = None
        if self.resume_path is not None and self.split.val and self.ckpt_path("best").is_file():
            from .checkpoint import read_card
            from .safeload import load_safetensors

            self.best_saved = self.ckpt_path("best")
            self.best_metrics = dict(read_card(self.best_saved).get("metrics", {}))
            best_state, _ = load_safetensors(self.best_saved)
        last_metrics: dict = {}

        def final_reserve() -> float:
            per_step = float(np.mean(step_times[-50:])) if step_times else 0.0
            bn = per_step * len(plain_loader) * 0.4 if cfg.bn_recompute and _bn_layers(raw_model) else 0.0
            return 2 * (bn + val_time) + 5.0

        for epoch in range(start_epoch, cfg.epochs):
            model.train()
            train_ds.set_epoch(epoch)
            sampler.set_epoch(epoch)
            loss_sum, loss_n, seen = 0.0, 0, 0
            epoch_t0 = time.monotonic()
            finished_epoch = True
            for step, (x, y, _) in enumerate(train_loader):
                over = budget is not None and (time.monotonic() - self.t0 + final_reserve()) > budget
                cancelled, over = ctx.any_flags(self.cancel.is_set(), over)
                if cancelled or over:
                    stopped = "cancelled" if cancelled else "time budget"
                    finished_epoch = False
                    break
                t = time.monotonic()
                lr = lr_at(cfg, epoch, step, steps)
                set_lr(optimizer, lr)
                y = y.to(ctx.device, non_blocking=True)
                with self._autocast():
                    logits = model(norm(x))
                loss = segmentation_loss(logits, y, weight, cfg.loss_reduction)
                if not torch.isfinite(loss):
                    raise TrainingError(f"the loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}; "
                                        "lower the learning rate (--lr)")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_v = float(loss.detach())
                loss_sum += loss_v
                loss_n += 1
                seen += x.shape[0] * ctx.world_size
                step_times.append(time.monotonic() - t)
                elapsed_epoch = time.monotonic() - epoch_t0
                per_step = elapsed_epoch / (step + 1)
                remaining = (steps - step - 1 + (cfg.epochs - epoch - 1) * steps) * per_step
                if val_loader is not None:
                    remaining += val_time * ((cfg.epochs - epoch - 1) // cfg.val_every + 1)
                self._emit(Progress("step", epoch=epoch + 1, epochs=cfg.epochs, step=step + 1, steps=steps,
                                    loss=loss_v, lr=lr, images_per_s=seen / max(elapsed_epoch, 1e-9),
                                    eta_s=remaining, elapsed_s=time.monotonic() - self.t0))
            if not finished_epoch:
                break
            mean_loss = torch.tensor([loss_sum, loss_n], dtype=torch.float64, device=ctx.device)
            mean_loss = ctx.all_reduce_sum(mean_loss)
            mean_loss = float(mean_loss[0] / max(1.0, float(mean_loss[1])))
            record = {"epoch": epoch + 1, "loss": mean_loss, "lr": lr_at(cfg, epoch, steps - 1, steps),
                      "train_s": round(time.monotonic() - epoch_t0, 2),
                      "images_per_s": round(seen / max(time.monotonic() - epoch_t0, 1e-9), 3)}
            val = None
            validate = val_loader is not None and ((epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs)
            if validate:
                tv = time.monotonic()
                val = self.evaluate(raw_model, val_loader, norm, k)
                val_time = time.monotonic() - tv
                record["val"] = {kk: val[kk] for kk in ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou")}
            self.history.append(record)
            if ctx.is_main:
                with open(self.out / "train-log.jsonl", "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
            self._emit(Progress("epoch", epoch=epoch + 1, epochs=cfg.epochs, step=steps, steps=steps,
                                loss=mean_loss, lr=record["lr"], val=record.get("val"),
                                images_per_s=record["images_per_s"], elapsed_s=time.monotonic() - self.t0))
            if val is not None:
                score = val[cfg.select_by]
                score = -math.inf if score is None or math.isnan(score) else score
                if score > self.best_score:
                    self.best_score, self.best_epoch = score, epoch + 1
                    best_state = {n: t.detach().cpu().clone() for n, t in raw_model.state_dict().items()}
                    self.best_metrics = val
                    self._save("best", raw_model, card, val, epoch + 1)
            last_metrics = val or {}
            self._save("last", raw_model, card, val, epoch + 1)
            self._save_state(optimizer, epoch + 1)
            ctx.barrier()
        else:
            epoch = cfg.epochs
        epochs_done = epoch if stopped != "finished" else cfg.epochs
        if stopped != "finished":
            self._log(f"stopped ({stopped}) during epoch {epoch + 1}; {epochs_done} epoch(s) complete")

        # Final: BN statistics over the training set, then evaluate and save again.
        last_path = self.ckpt_path("last")
        if stopped == "cancelled":
            # Leave a usable checkpoint quickly: the current weights as they are.
            self._save("last", raw_model, card, last_metrics or None, epochs_done)
            self._save_state(optimizer, epochs_done)
        else:
            if cfg.bn_recompute and _bn_layers(raw_model):
                self._log("recomputing batch-norm statistics on the training set")
                self.recompute_bn(raw_model, plain_loader, norm)
                self.bn_done.add("last")
            if val_loader is not None:
                last_metrics = self.evaluate(raw_model, val_loader, norm, k)
            self._save("last", raw_model, card, last_metrics or None, epochs_done)
            self._save_state(optimizer, epochs_done)
            if val_loader is not None:
                score = last_metrics[cfg.select_by]
                if score is not None and not math.isnan(score) and score >= self.best_score:
                    self.best_score, self.best_epoch = score, epochs_done
                    self.best_metrics = last_metrics
                    self.bn_done.add("best")
                    self._save("best", raw_model, card, last_metrics, epochs_done)
                elif best_state is not None and cfg.bn_recompute and _bn_layers(raw_model):
                    raw_model.load_state_dict(best_state)
                    self.recompute_bn(raw_model, plain_loader, norm)
                    m = self.evaluate(raw_model, val_loader, norm, k)
                    if m[cfg.select_by] is not None and m[cfg.select_by] > self.best_score:
                        self.best_score, self.best_metrics = m[cfg.select_by], m
                        self.bn_done.add("best")
                        self._save("best", raw_model, card, m, self.best_epoch)
        ctx.barrier()
        wall = self.prior_wall + time.monotonic() - self.t0
        best_path = self.best_saved if self.split.val else last_path
        result = TrainResult(best_path=best_path, last_path=last_path,
                             epochs_done=epochs_done, stopped=stopped,
                             best_metrics=getattr(self, "best_metrics", {}), last_metrics=last_metrics,
                             history=self.history, wall_time_s=wall)
        self._emit(Progress("done", epoch=epochs_done, epochs=cfg.epochs, val=last_metrics or None,
                            path=str(result.best_path or result.last_path), message=stopped,
                            elapsed_s=time.monotonic() - self.t0))
        return result


def train(config: TrainConfig, progress: Callable[[Progress], None] | None = None,
          cancel: threading.Event | None = None, resume: str | Path | None = None,
          log: Callable[[str], None] | None = None) -> TrainResult:
    """Run one training job to the end (or to cancellation / the time budget)."""
    return Trainer(config, progress=progress, cancel=cancel, resume=resume, log=log).run()
