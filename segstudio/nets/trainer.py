"""The trainer: trains or fine-tunes any registered network on image + mask folders.

`Trainer(config, progress=..., cancel=...).run()` does the whole job:
data (`data.py`, `augment.py`), model and datasets (`train_setup.py`), loss
(`train_loss.py`), optimiser and schedule (`train_optim.py`), validation with
the core confusion matrix (`train_eval.py`), checkpoints in segstudio's format
with a filled model card (`train_checkpoints.py`), resume, a time budget,
cancellation between steps, and DistributedDataParallel under torchrun
(`train_dist.py`). Qt-free: the GUI and the CLI only supply callbacks.

With `val_sequences` the held-out sequences pick the best checkpoint and the
data root's standard val split is evaluated too, at the end, into the card's
`metrics_extra`.

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

import json
import math
import random
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from segstudio.core.atomic import atomic_write_text
from segstudio.core.output_guard import refuse_input_folder

from . import train_dist, train_eval, train_setup
from .data import find_data
from .train_checkpoints import STATE_SUFFIX, CheckpointStore, RunInfo, RunRecord, load_state, resolution_text
from .train_config import ConfigError, TrainConfig
from .train_loss import segmentation_loss
from .train_optim import lr_at, lr_by_time, make_optimizer, set_lr
from .train_report import Progress, TrainingError, TrainResult, bn_layers, hardware

__all__ = ["Trainer", "train", "Progress", "TrainResult", "TrainingError", "STATE_SUFFIX"]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class Trainer:
    """One training run. Construct, then call `run()` (blocking). It holds a `CheckpointStore`
    (`self.store`) that writes the checkpoints and the training state, and a `RunRecord`
    (`self.record`) of the counters it keeps."""

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
        self.init_report = None

    # --- reporting (rank 0 only) ----------------------------------------------
    def _emit(self, p: Progress) -> None:
        if self.ctx.is_main and self.progress_cb is not None:
            self.progress_cb(p)

    def _log(self, msg: str) -> None:
        if self.ctx.is_main:
            if self.log_cb is not None:
                self.log_cb(msg)
            self._emit(Progress("status", message=msg, elapsed_s=self.record.elapsed()))

    def model_name(self, arch: str, labelset) -> str:
        return self.cfg.name or f"{arch}-{labelset.name or 'custom'}"

    # --- evaluation -----------------------------------------------------------
    def evaluate(self, model: nn.Module, loader, norm, k: int) -> dict:
        return train_eval.evaluate(model, loader, norm, k, self.ctx, self.cfg.amp)

    def recompute_bn(self, model: nn.Module, loader, norm) -> bool:
        """Replace BN running statistics by their average over the (un-augmented) training set."""
        return train_eval.recompute_bn(model, loader, norm, self.ctx, self.cfg.amp, self.cancel)

    # --- the run ---------------------------------------------------------------------
    def run(self) -> TrainResult:
        self.ctx = train_dist.setup(self.cfg.device)
        threads = torch.get_num_threads()
        try:
            return self._run()
        finally:
            torch.set_num_threads(threads)  # the caller's process (GUI, tests) keeps its setting
            self.ctx.close()

    @property
    def best_epoch(self) -> int:
        return self.record.best_epoch

    def _reset(self) -> None:
        self.record = RunRecord()
        self.best_state = None
        self.best_metrics: dict = {}
        self.class_weights = None
        self.step_times: list[float] = []
        self.val_time = 0.0

    def _labelset(self):
        from .checkpoint import card_labelset, read_card

        if self.resume_path is not None:
            return card_labelset(read_card(self.resume_path))
        return train_setup.load_labelset(self.cfg, train_setup.init_card(self.cfg))

    def _model(self, labelset):
        """(model, card) of a new, fine-tuned or resumed run; sets the run's name."""
        from .checkpoint import load_checkpoint

        if self.resume_path is not None:
            model, card = load_checkpoint(self.resume_path, device="cpu")
            self.name = self.resume_path.stem.removesuffix("-last")
        else:
            arch = self.cfg.arch or (train_setup.init_card(self.cfg) or {}).get("arch", "model")
            model, card, self.init_report = train_setup.build_model(
                self.cfg, labelset, self.model_name(arch, labelset), self._log)
            self.name = card["name"]
        card["name"] = self.name
        return model, card

    def _prepare(self):
        """Data, model, loaders, loss weights and optimiser; returns the model (DDP-wrapped if distributed)."""
        cfg, ctx = self.cfg, self.ctx
        if not cfg.out:
            raise ConfigError("no output folder: give --out DIR")
        self.out = Path(cfg.out)
        inputs = [p for p in (cfg.images, cfg.masks, cfg.val_images, cfg.val_masks, cfg.data) if p]
        refuse_input_folder(self.out, inputs, "training output folder")
        if ctx.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.labelset = self._labelset()
        self.split = find_data(cfg.data, images=cfg.images, masks=cfg.masks, train_list=cfg.train_list,
                               val_list=cfg.val_list, val_images=cfg.val_images, val_masks=cfg.val_masks,
                               val_fraction=cfg.val_fraction, seed=cfg.seed, val_sequences=cfg.val_sequences)
        model, self.card = self._model(self.labelset)
        self.k = k = self.labelset.num_classes
        model.to(ctx.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.raw_model = model
        self.hardware = hardware(ctx)
        self.input_resize = train_setup.input_resize(cfg, self.split)
        self.short_side = train_setup.train_short_side(cfg, self.split)
        train_ds, plain_ds, val_ds, extra_ds, cached = train_setup.make_datasets(cfg, self.split, k)
        self._log(f"{self.card['arch']} width {self.card.get('width')} · {k} classes · "
                  f"{len(self.split.train)} training / {len(self.split.val)} {self.split.val_name} images"
                  + "".join(f" / {len(v)} {n} images" for n, v in self.split.extra.items())
                  + f" · {resolution_text(cfg)} · {ctx.device}"
                  + (f" · {ctx.world_size} processes" if ctx.distributed else ""))
        if ctx.distributed:
            print(f"[rank {ctx.rank}/{ctx.world_size}] {len(train_ds)} training images, "
                  f"shard of {math.ceil(len(train_ds) / ctx.world_size)}, device {ctx.device}", flush=True)
        if cached:
            self._log("decoding images into memory")
            for ds in (train_ds, val_ds, *extra_ds.values()):
                ds.preload()
        self.class_weights = train_setup.class_weights(cfg, train_ds.samples, k, self._log)
        info = RunInfo(cfg, self.labelset, self.split, self.input_resize, self.short_side, self.hardware,
                       self.class_weights, self.card.get("training", {}).get("pretrained"))
        self.store = CheckpointStore(self.out, self.name, info, self.record, ctx.is_main, self._emit)
        self.weight = (None if self.class_weights is None
                       else torch.tensor(self.class_weights, dtype=torch.float32, device=ctx.device))
        self.norm = train_eval.make_normaliser(self.card, ctx.device, self.channels_last)
        self.train_ds = train_ds
        self.train_loader, self.sampler = train_setup.make_loader(train_ds, cfg, ctx, shuffle=True, shard=True)
        self.plain_loader, _ = train_setup.make_loader(plain_ds, cfg, ctx, shuffle=False, shard=True)
        self.val_loader = (train_setup.make_loader(val_ds, cfg, ctx, shuffle=False, shard=True)[0]
                           if len(val_ds) else None)
        self.extra_loaders = {n: train_setup.make_loader(d, cfg, ctx, shuffle=False, shard=True)[0]
                              for n, d in extra_ds.items() if len(d)}
        if ctx.distributed:
            model = nn.parallel.DistributedDataParallel(
                model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
        self.optimizer = make_optimizer(self.raw_model, cfg)
        return model

    @property
    def channels_last(self) -> bool:
        """NHWC tensors on the CPU (oneDNN's native layout: measured faster in bench_train.py)."""
        if self.cfg.channels_last is not None:
            return bool(self.cfg.channels_last)
        return self.ctx.device.type == "cpu"

    def _resume_state(self) -> int:
        from .checkpoint import read_card
        from .safeload import load_safetensors

        start = load_state(self.resume_path, self.optimizer, self.record)
        self._log(f"resuming after epoch {start} of {self.cfg.epochs} (best {self.cfg.select_by} "
                  f"{self.record.best_score:.4f} at epoch {self.record.best_epoch})")
        best = self.store.path("best")
        if self.split.val and best.is_file():
            self.store.best_saved = best
            self.best_metrics = dict(read_card(best).get("metrics", {}))
            self.best_state, _ = load_safetensors(best)
        return start

    def _run(self) -> TrainResult:
        cfg, ctx = self.cfg, self.ctx
        self._reset()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        _seed_everything(cfg.seed)
        model = self._prepare()
        start_epoch = self._resume_state() if self.resume_path is not None else 0
        if ctx.is_main:
            atomic_write_text(self.out / "train-config.json",
                              json.dumps({"config": cfg.to_dict()}, indent=2) + "\n")
        self.budget = cfg.max_minutes * 60 if cfg.max_minutes else None
        stopped, epoch = "finished", start_epoch
        for epoch in range(start_epoch, cfg.epochs):
            stopped = self._train_epoch(model, epoch)
            if stopped != "finished":
                break
            self._end_epoch(epoch)
        epochs_done = epoch if stopped != "finished" else cfg.epochs
        if stopped != "finished":
            self._log(f"stopped ({stopped}) during epoch {epoch + 1}; {epochs_done} epoch(s) complete")
        last_metrics = self._finish(stopped, epochs_done)
        ctx.barrier()
        rec, store = self.record, self.store
        result = TrainResult(best_path=store.best_saved if self.split.val else store.path("last"),
                             last_path=store.path("last"), epochs_done=epochs_done, stopped=stopped,
                             best_metrics=self.best_metrics, last_metrics=last_metrics,
                             history=rec.history, wall_time_s=rec.wall_time(),
                             extra_metrics=rec.extra_metrics.get("best", {}))
        self._emit(Progress("done", epoch=epochs_done, epochs=cfg.epochs, val=last_metrics or None,
                            path=str(result.best_path or result.last_path), message=stopped,
                            elapsed_s=rec.elapsed()))
        return result

    def _final_reserve(self) -> float:
        per_step = float(np.mean(self.step_times[-50:])) if self.step_times else 0.0
        bn = (per_step * len(self.plain_loader) * 0.4
              if self.cfg.bn_recompute and bn_layers(self.raw_model) else 0.0)
        return 2 * (bn + self.val_time) + 5.0

    def _train_epoch(self, model: nn.Module, epoch: int) -> str:
        """One epoch; "finished", or "cancelled" / "time budget" when it stopped part-way."""
        cfg, ctx = self.cfg, self.ctx
        model.train()
        self.train_ds.set_epoch(epoch)
        self.sampler.set_epoch(epoch)
        steps = len(self.train_loader)
        self.loss_sum, self.loss_n, seen = 0.0, 0, 0
        self.epoch_t0 = epoch_t0 = time.monotonic()
        for step, (x, y, _) in enumerate(self.train_loader):
            over = self.budget is not None and (self.record.elapsed() + self._final_reserve()) > self.budget
            cancelled, over = ctx.any_flags(self.cancel.is_set(), over)
            if cancelled or over:
                return "cancelled" if cancelled else "time budget"
            t = time.monotonic()
            lr = lr_at(cfg, epoch, step, steps)
            if self.budget is not None:  # the schedule runs over the time budget: it ends finished, not cut
                lr = min(lr, lr_by_time(cfg, self.record.elapsed() / max(1.0, self.budget - self._final_reserve())))
            loss_v = self._step(model, x, y, lr, epoch, step)
            self.last_lr = lr
            seen += x.shape[0] * ctx.world_size
            self.step_times.append(time.monotonic() - t)
            elapsed = time.monotonic() - epoch_t0
            remaining = (steps - step - 1 + (cfg.epochs - epoch - 1) * steps) * elapsed / (step + 1)
            if self.val_loader is not None:
                remaining += self.val_time * ((cfg.epochs - epoch - 1) // cfg.val_every + 1)
            if self.budget is not None:
                remaining = min(remaining, self.budget - self.record.elapsed())
            self._emit(Progress("step", epoch=epoch + 1, epochs=cfg.epochs, step=step + 1, steps=steps,
                                loss=loss_v, lr=lr, images_per_s=seen / max(elapsed, 1e-9),
                                eta_s=remaining, elapsed_s=self.record.elapsed()))
        self.seen = seen
        return "finished"

    def _step(self, model: nn.Module, x, y, lr: float, epoch: int, step: int) -> float:
        set_lr(self.optimizer, lr)
        y = y.to(self.ctx.device, non_blocking=True)
        with train_eval.autocast(self.ctx, self.cfg.amp):
            logits = model(self.norm(x))
        loss = segmentation_loss(logits, y, self.weight, self.cfg.loss_reduction)
        if not torch.isfinite(loss):
            raise TrainingError(f"the loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}; "
                                "lower the learning rate (--lr)")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        loss_v = float(loss.detach())
        self.loss_sum += loss_v
        self.loss_n += 1
        return loss_v

    def _end_epoch(self, epoch: int) -> None:
        """Epoch record and log line, validation, best / last checkpoints and training state."""
        cfg, ctx = self.cfg, self.ctx
        steps = len(self.train_loader)
        mean_loss = ctx.all_reduce_sum(torch.tensor([self.loss_sum, self.loss_n], dtype=torch.float64,
                                                    device=ctx.device))
        mean_loss = float(mean_loss[0] / max(1.0, float(mean_loss[1])))
        took = time.monotonic() - self.epoch_t0
        record = {"epoch": epoch + 1, "loss": mean_loss, "lr": self.last_lr,
                  "train_s": round(took, 2), "images_per_s": round(self.seen / max(took, 1e-9), 3)}
        val = None
        if self.val_loader is not None and ((epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs):
            tv = time.monotonic()
            val = self.evaluate(self.raw_model, self.val_loader, self.norm, self.k)
            self.val_time = time.monotonic() - tv
            record["val"] = {kk: val[kk] for kk in train_eval.FIGURES}
        self.record.history.append(record)
        if ctx.is_main:
            with open(self.out / "train-log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        self._emit(Progress("epoch", epoch=epoch + 1, epochs=cfg.epochs, step=steps, steps=steps,
                            loss=mean_loss, lr=record["lr"], val=record.get("val"),
                            images_per_s=record["images_per_s"], elapsed_s=self.record.elapsed()))
        if val is not None:
            self._consider_best(val, epoch + 1)
        self.last_metrics = val or {}
        self.store.save("last", self.raw_model, self.card, val, epoch + 1)
        self.store.save_state(self.optimizer, epoch + 1)
        ctx.barrier()

    def _consider_best(self, val: dict, epoch: int, bn: bool = False) -> bool:
        score = val[self.cfg.select_by]
        score = -math.inf if score is None or math.isnan(score) else score
        rec = self.record
        if score <= rec.best_score and not (bn and score == rec.best_score):
            return False
        rec.best_score, rec.best_epoch, self.best_metrics = score, epoch, val
        self.best_state = {n: t.detach().cpu().clone() for n, t in self.raw_model.state_dict().items()}
        if bn:
            rec.bn_done.add("best")
        self.store.save("best", self.raw_model, self.card, val, epoch)
        return True

    def _finish(self, stopped: str, epochs_done: int) -> dict:
        """BN statistics over the training set, the final evaluation and checkpoints; the extra
        splits (standard val beside held-out sequences) evaluated on the best weights."""
        model, cfg, store, rec = self.raw_model, self.cfg, self.store, self.record
        last_metrics = getattr(self, "last_metrics", {})
        if stopped == "cancelled":  # leave a usable checkpoint quickly: the current weights as they are
            store.save("last", model, self.card, last_metrics or None, epochs_done)
            store.save_state(self.optimizer, epochs_done)
            return last_metrics
        with_bn = cfg.bn_recompute and bool(bn_layers(model))
        if with_bn:
            self._log("recomputing batch-norm statistics on the training set")
            self.recompute_bn(model, self.plain_loader, self.norm)
            rec.bn_done.add("last")
        if self.val_loader is not None:
            last_metrics = self.evaluate(model, self.val_loader, self.norm, self.k)
        store.save("last", model, self.card, last_metrics or None, epochs_done)
        store.save_state(self.optimizer, epochs_done)
        if self.val_loader is None:
            return last_metrics
        if not self._consider_best(last_metrics, epochs_done, bn=True) and self.best_state is not None and with_bn:
            model.load_state_dict(self.best_state)
            self.recompute_bn(model, self.plain_loader, self.norm)
            m = self.evaluate(model, self.val_loader, self.norm, self.k)
            if not self._consider_best(m, rec.best_epoch, bn=True):
                model.load_state_dict(self.best_state)
        elif self.best_state is not None:
            model.load_state_dict(self.best_state)
        if self.extra_loaders and store.best_saved is not None:
            rec.extra_metrics["best"] = {n: self.evaluate(model, ld, self.norm, self.k)
                                        for n, ld in self.extra_loaders.items()}
            store.save("best", model, self.card, self.best_metrics, rec.best_epoch)
        return last_metrics


def train(config: TrainConfig, progress: Callable[[Progress], None] | None = None,
          cancel: threading.Event | None = None, resume: str | Path | None = None,
          log: Callable[[str], None] | None = None) -> TrainResult:
    """Run one training job to the end (or to cancellation / the time budget)."""
    return Trainer(config, progress=progress, cancel=cancel, resume=resume, log=log).run()
