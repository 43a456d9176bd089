"""Setting up a training run: label set, model (new, fine-tuned or resumed) with its card,
datasets and loaders, class weights, and the scale the predictor should work at."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from segstudio.core.labels import LabelSet, resolve_labelset

from . import PRETRAINED_ARCHS
from .data import (Augment, DataSplit, SegmentationDataset, class_pixel_counts, estimate_bytes,
                   median_frequency_weights, pad_collate, parse_size, tempered_weights)
from .train_config import ConfigError, TrainConfig

CACHE_LIMIT_BYTES = 4 << 30


def load_labelset(cfg: TrainConfig, init_card: dict | None) -> LabelSet:
    spec = cfg.labels
    if spec is None:
        if init_card is None:
            raise ConfigError("no label set: give --labels (voc, camvid or a file) or --init a checkpoint")
        from .checkpoint import card_labelset
        return card_labelset(init_card)
    if isinstance(spec, dict):
        return LabelSet.from_dict(spec, "config labels")
    return resolve_labelset(spec)


def init_path(cfg: TrainConfig) -> Path:
    from .checkpoint import resolve_model

    return resolve_model(cfg.init)


def init_card(cfg: TrainConfig) -> dict | None:
    """The card of the --init checkpoint, if it is a segstudio checkpoint."""
    from .checkpoint import card_path, read_card

    if not cfg.init:
        return None
    path = init_path(cfg)
    if path.suffix == ".safetensors" or card_path(path).is_file():
        return read_card(path)
    return None


def _init_state(cfg: TrainConfig):
    """(state dict, input convention, arch, width, arch options) of the --init weights."""
    from .checkpoint import card_path, load_checkpoint

    path = init_path(cfg)
    options = dict(cfg.arch_options)
    if path.suffix == ".safetensors" or card_path(path).is_file():
        src, card = load_checkpoint(path, device="cpu")
        arch = cfg.arch or card["arch"]
        width = cfg.width if cfg.width is not None else card.get("width", 1.0)
        if not options and arch == card["arch"]:
            options = dict(card.get("arch_options", {}))
        return src.state_dict(), card.get("input"), arch, width, options
    from .safeload import load_state_dict_file  # a bare state dict (torchvision VGG16 / VGG16-BN, torchfcn)

    state = load_state_dict_file(path)
    if not cfg.arch:
        raise ConfigError(f"{path}: a bare state dict has no model card; give --arch")
    return state, None, cfg.arch, cfg.width if cfg.width is not None else 1.0, options


def build_model(cfg: TrainConfig, labelset: LabelSet, name: str, log=None):
    """(model, card, import report or None) for a new run: from scratch or fine-tuned from --init."""
    from . import build_model as build
    from .checkpoint import make_card

    input_norm, report = None, None
    if cfg.init:
        from .weights import import_weights

        state, input_norm, arch, width, options = _init_state(cfg)
        model = build(arch, labelset.num_classes, width, **options)
        report, info = import_weights(model, state)
        input_norm = input_norm or info.input_norm
        if log:
            log(f"fine-tuning from {init_path(cfg)}: {len(report.loaded)} tensors loaded, "
                f"{len(report.reinitialised)} re-initialised, {len(report.skipped)} skipped")
    else:
        if not cfg.arch:
            raise ConfigError("no architecture: give --arch (fcn8s, segnet-basic, ...) or --init a checkpoint")
        arch, width, options = cfg.arch, cfg.width if cfg.width is not None else 1.0, dict(cfg.arch_options)
        model = build(arch, labelset.num_classes, width, **options)
    training = {}
    if arch in PRETRAINED_ARCHS:
        from .pretrained import LITE0_IMAGENET, load_encoder

        input_norm = input_norm or LITE0_IMAGENET.input_norm
        if not cfg.init and cfg.pretrained != "none":
            n = load_encoder(model.encoder, LITE0_IMAGENET)
            training["pretrained"] = f"{LITE0_IMAGENET.name} ImageNet ({LITE0_IMAGENET.licence})"
            if log:
                log(f"encoder: {LITE0_IMAGENET.name} ImageNet weights ({n} tensors, sha256 verified)")
    card = make_card(arch, width, labelset, input_norm=input_norm, name=name, arch_options=options,
                     training=training)
    return model, card, report


def augmentation(cfg: TrainConfig) -> Augment:
    crop = parse_size(cfg.crop) if cfg.crop else None
    return Augment(scale_min=cfg.aug_scale[0], scale_max=cfg.aug_scale[1], crop=crop, hflip=cfg.hflip,
                   color_jitter=cfg.color_jitter, gamma=cfg.gamma, blur=cfg.blur, noise=cfg.noise)


def make_datasets(cfg: TrainConfig, split: DataSplit, k: int):
    """(augmented train, plain train, val, {extra name: dataset}, cached?); the plain training
    set shares the decoded pairs of the augmented one (for BN statistics)."""
    size = parse_size(cfg.size) if cfg.size else cfg.short_side
    everything = split.train + split.val + [s for v in split.extra.values() for s in v]
    cache = cfg.cache
    if cache is None:
        cache = estimate_bytes(everything, cfg.scale, size) < CACHE_LIMIT_BYTES

    def ds(samples, **kw):
        return SegmentationDataset(samples, k, scale=cfg.scale, size=size, seed=cfg.seed, **kw)

    train = ds(split.train, augment=augmentation(cfg), cache=cache)
    plain = ds(split.train, cache=False)
    plain._cache = train._cache
    extra = {name: ds(samples, cache=cache) for name, samples in split.extra.items()}
    return train, plain, ds(split.val, cache=cache), extra, cache


def make_loader(ds, cfg: TrainConfig, ctx, shuffle: bool, shard: bool):
    """(DataLoader, DistributedSampler or None); evaluation loaders shard without shuffling."""
    workers = cfg.workers
    if workers is None:
        workers = 0 if ds._cache is not None else min(2, max(0, (os.cpu_count() or 1) - 1))
    pin = ctx.device.type == "cuda"
    if shuffle:
        sampler = DistributedSampler(ds, num_replicas=ctx.world_size if shard else 1,
                                     rank=ctx.rank if shard else 0, shuffle=True, seed=cfg.seed)
        return DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=workers,
                          collate_fn=pad_collate, persistent_workers=workers > 0, pin_memory=pin), sampler
    idx = list(range(len(ds)))[ctx.rank::ctx.world_size] if shard else list(range(len(ds)))
    loader = DataLoader(torch.utils.data.Subset(ds, idx), batch_size=cfg.batch_size, shuffle=False,
                        num_workers=workers, collate_fn=pad_collate, pin_memory=pin)
    return loader, None


def class_weights(cfg: TrainConfig, samples, k: int, log=None) -> list[float] | None:
    """The loss's class weights: none, (square-root) median frequency over the full-resolution
    training masks, or the configured list; capped at `class_weight_cap`."""
    cw = cfg.class_weights
    if isinstance(cw, str) and cw == "none":
        return None
    if isinstance(cw, str):
        counts, totals = class_pixel_counts((s.mask for s in samples), k)
        w = tempered_weights(median_frequency_weights(counts, totals), 0.5 if cw.startswith("sqrt") else 1.0)
    else:
        w = np.asarray(cw, np.float64)
        if w.shape != (k,):
            raise ConfigError(f"class_weights has {w.size} values but the label set has {k} classes")
        if (w < 0).any():
            raise ConfigError("class_weights must not be negative")
    w = tempered_weights(w, 1.0, cfg.class_weight_cap)
    if log and isinstance(cw, str):
        log(f"{cw} class weights: " + " ".join(f"{v:.4f}" for v in w))
    return [float(v) for v in w]


def input_resize(cfg: TrainConfig, split: DataSplit) -> float:
    """The factor the predictor should shrink images by: --scale, or what --size means for
    training images that all have one size and aspect ratio (else 1: predict at full size)."""
    if cfg.short_side and not cfg.size:
        return 1.0  # images of any size: the card's train_short_side tells the predictor
    if not cfg.size:
        return float(cfg.scale or 1.0)
    from segstudio.core.imageio import image_size

    w, h = parse_size(cfg.size)
    sizes = {image_size(s.image) for s in split.train}
    if len(sizes) == 1:
        (w0, h0), = sizes
        if abs(w / w0 - h / h0) < 0.01 * (w / w0):
            return round(w / w0, 6)
    return 1.0


def train_short_side(cfg: TrainConfig, split: DataSplit) -> int | None:
    """The short side, in pixels, of a typical training image as the network saw it: the base
    resolution times the geometric middle of the random rescale range (None for mixed sizes)."""
    from segstudio.core.imageio import image_size

    middle = math.sqrt(cfg.aug_scale[0] * cfg.aug_scale[1])
    if cfg.short_side and not cfg.size:
        # Measured for fcn8s-lite0 (0.5-1.25 rescaling, CamVid 0006R0 held out): predicting at the base short
        # side scored 39.4 mIoU, at the rescale range's middle (0.79x) 38.5.
        return cfg.short_side
    sizes = {image_size(s.image) for s in split.train[:: max(1, len(split.train) // 8)]}
    if len(sizes) != 1:
        return None
    (w0, h0), = sizes
    if cfg.size:
        w, h = parse_size(cfg.size)
    else:
        w, h = w0 * (cfg.scale or 1.0), h0 * (cfg.scale or 1.0)
    return round(min(w, h) * middle)
