"""Running a segmentation model on images: the engine behind `segstudio predict` and the GUI.

`Predictor` takes RGB uint8 images and returns uint8 label maps (optionally
per-class probabilities, or the softmax margin as confidence). It preprocesses
with the card's `InputTransform` (in numpy on the CPU, and brings predictions
made at a working scale back with OpenCV, see `upsample`), picks the
device (`device.pick_device`: CUDA, then MPS, then CPU), runs under `torch.inference_mode`, and on
CUDA uses bf16 (or fp16) autocast and channels_last. Images larger than
`tile_size` are predicted in overlapping tiles (see `tiling`); running out of
accelerator memory falls back to smaller tiles, then to the CPU, with a
message. With `tta` (test-time augmentation) the probabilities of mirrored
and rescaled views (`TTA_VIEWS`) are averaged at the working scale before
the upsampling. `predict_paths` decodes files on a thread pool ahead of the
model and batches images of the same size. It has no Qt: the GUI drives it from a
worker thread and cancels it through a `threading.Event`, checked between
tiles and batches.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np
import torch
from torch import nn

from segstudio.core.errors import SegstudioError
from segstudio.core.imageio import load_image
from segstudio.core.jobs import Cancelled

from .card import InputTransform, card_labelset, validate_card
from .checkpoint import load_checkpoint
from .device import pick_device
from .errors import ModelError
from .tiling import same_shape_groups, tiles
from .upsample import margin, softmax, upsample
from .working_size import check_scale, pad_to, working_dims

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
MIN_TILE = 256
#: Test-time augmentation: the views averaged, as (factor of the working scale, mirrored) pairs. Measured
#: by benchmarks/bench_tta.py on CamVid frames of a sequence the model never saw: "flip" +0.8 mIoU points
#: at 2.4x the time, "flip+scales" +1.6 at 5.4x; on CamVid val, which shares its sequence with training,
#: -0.5 and -0.9. An option, off by default.
TTA_VIEWS: dict[str, tuple[tuple[float, bool], ...]] = {
    "flip": ((1.0, False), (1.0, True)),
    "flip+scales": tuple((s, m) for s in (0.75, 1.0, 1.25) for m in (False, True)),
}


def is_out_of_memory(e: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    text = str(e).lower()
    return isinstance(e, oom) or (isinstance(e, RuntimeError)
                                  and ("out of memory" in text or "not enough memory" in text))


class Predictor:
    """Label maps from RGB images with one model; see the module docstring."""

    def __init__(self, model: nn.Module, card: dict, device: str | torch.device = "auto",
                 tile_size: int = 1024, tile_overlap: int | None = None, batch_size: int | None = None,
                 precision: str = "auto", channels_last: bool | None = None, workers: int | None = None,
                 on_message: Callable[[str], None] | None = None, scale: float | None = None,
                 tta: str | None = None) -> None:
        validate_card(card)
        self.card = card
        self.labelset = card_labelset(card)
        k = getattr(model, "num_classes", card["num_classes"])
        if k != self.labelset.num_classes:
            raise ModelError(f"the model predicts {k} classes but its card's label set has "
                             f"{self.labelset.num_classes}")
        self.model = model.eval()
        self.output_stride = int(getattr(model, "output_stride", 32))
        self.tile_size = int(tile_size)
        self.tile_overlap = int(tile_overlap if tile_overlap is not None else getattr(model, "tile_overlap", 128))
        if self.tile_size < self.tile_overlap + self.output_stride:
            raise ModelError(f"tile size {self.tile_size} must exceed the tile overlap "
                             f"({self.tile_overlap}) by at least {self.output_stride}")
        if precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ModelError(f"precision must be auto, fp32, bf16 or fp16, got {precision!r}")
        self.precision = precision
        self._channels_last_opt = channels_last
        self.workers = workers or min(4, os.cpu_count() or 1)
        self.on_message = on_message
        self.messages: list[str] = []
        self._batch_size_opt = batch_size
        self._move_to(pick_device(device))
        self.transform = InputTransform.from_card(card)
        # Models trained on downscaled images (e.g. on a CPU) see images resized by this
        # factor; their logits are scaled back to the image's own size.
        self.input_resize = self.transform.resize
        self.scale = None if scale is None else check_scale(scale)  # None: the working scale the card asks for
        self.tta = tta  # None: one view; else a key of TTA_VIEWS (checked by the setter)
        self.train_short_side = (card.get("input") or {}).get("train_short_side")  # checked by validate_card
        self._capped: set = set()  # image sizes whose working scale was capped (said once each)
        self.source: str | Path | None = None  # the checkpoint (name or path) it was loaded from, if any

    @classmethod
    def from_checkpoint(cls, name_or_path: str | Path, device: str | torch.device = "auto",
                        backend: str | None = None, **kwargs) -> Predictor:
        """`backend` None: $SEGSTUDIO_BACKEND, else auto (see use_backend)."""
        model, card = load_checkpoint(name_or_path, device="cpu")
        predictor = cls(model, card, device=device, **kwargs)
        path = Path(name_or_path)
        predictor.source = path.resolve() if path.exists() else name_or_path
        return predictor.use_backend(backend)

    def use_backend(self, backend: str | None = "auto") -> Predictor:
        """Run float32 CPU inference on `backend`: auto, torch or onnxruntime (see nets.backends).

        Only the CPU has a choice: on CUDA or MPS the model stays torch, and asking
        for onnxruntime there is an error.
        """
        from .backends import BACKENDS, BackendSwitch

        backend = backend or os.environ.get("SEGSTUDIO_BACKEND") or "auto"
        if backend not in BACKENDS:
            raise ModelError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if isinstance(self.model, BackendSwitch):
            self.model = self.model.model
        if self._device.type != "cpu":
            if backend == "onnxruntime":
                raise ModelError(f"the onnxruntime backend runs on the CPU; this predictor uses {self.device}")
            return self
        if backend != "torch":
            self.model = BackendSwitch(self.model, self.card, backend, on_message=self._message, source=self.source)
        return self

    @property
    def backend(self) -> str:
        """What runs the next CPU forward pass: 'onnxruntime' or 'torch'."""
        return getattr(self.model, "active", "torch")

    # --- device and precision --------------------------------------------------------------

    def _move_to(self, dev: torch.device) -> None:
        self._device = dev
        accel = dev.type == "cuda"
        self.channels_last = accel if self._channels_last_opt is None else bool(self._channels_last_opt)
        self.model.to(dev, memory_format=torch.channels_last if self.channels_last else torch.preserve_format)
        self.autocast_dtype = None
        if dev.type == "cuda" and self.precision != "fp32":
            if self.precision == "fp16" or (self.precision == "auto" and not torch.cuda.is_bf16_supported()):
                self.autocast_dtype = torch.float16
            else:
                self.autocast_dtype = torch.bfloat16
        elif dev.type == "cpu" and self.precision == "bf16":
            # Only on request: faster on CPUs with AVX512-BF16 / AMX, slightly different labels.
            self.autocast_dtype = torch.bfloat16
        self.batch_size = max(1, int(self._batch_size_opt or (4 if dev.type != "cpu" else 1)))

    @property
    def device(self) -> str:
        return str(self._device)

    def _message(self, text: str) -> None:
        self.messages.append(text)
        if self.on_message is not None:  # the caller shows it; logging it too would print it twice on stderr
            self.on_message(text)
        else:
            log.warning(text)

    # --- the network -----------------------------------------------------------------------

    def preprocess(self, images: list[np.ndarray]) -> torch.Tensor:
        """N,3,H,W float32 on the device, normalised as the card says (images: same-size HxWx3 uint8)."""
        if self._device.type == "cpu":  # numpy on one thread: torch's pool costs more than this work
            x = torch.from_numpy(self.transform.numpy(images))
        else:
            x = torch.from_numpy(np.ascontiguousarray(np.stack(images)))
            x = self.transform(x.to(self._device, non_blocking=True).permute(0, 3, 1, 2))
        # The HWC source makes x channels_last already; choose the layout explicitly.
        return x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits N,K,H,W as float32 (on the device)."""
        if self.autocast_dtype is not None:
            with torch.autocast(self._device.type, dtype=self.autocast_dtype):
                out = self.model(x)
        else:
            out = self.model(x)
        return out.float()

    # --- single images ---------------------------------------------------------------------

    @staticmethod
    def _check_image(image) -> np.ndarray:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            raise SegstudioError(f"expected an RGB uint8 image array, got {type(image).__name__} "
                                 f"{getattr(image, 'dtype', '')}")
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
            raise SegstudioError(f"expected an HxWx3 image, got shape {image.shape}")
        return image

    @torch.inference_mode()
    def predict(self, image: np.ndarray, cancel: threading.Event | None = None,
                progress: Progress | None = None, return_probs: bool = False, scale: float | None = None):
        """HxW uint8 labels (and CxHxW float32 probabilities if `return_probs`) for an RGB image,
        predicted at the working scale (`working_factor`, or this call's `scale`) and brought back
        to the image's size by upsampling the probabilities. `progress(done, total)` counts tiles,
        or with `tta` the views."""
        labels, probs = self._predict(image, cancel, progress, scale, "probs" if return_probs else None)
        return (labels, probs) if return_probs else labels

    @torch.inference_mode()
    def predict_confidence(self, image: np.ndarray, cancel: threading.Event | None = None,
                           progress: Progress | None = None, scale: float | None = None):
        """(HxW uint8 labels, HxW float32 confidence in [0, 1]): the softmax margin p(best) - p(second),
        computed at the image's size without keeping its C x H x W probabilities (tiled images take
        it tile by tile)."""
        return self._predict(image, cancel, progress, scale, "margin")

    @property
    def tta(self) -> str | None:
        return self._tta

    @tta.setter
    def tta(self, value: str | None) -> None:
        if value is not None and value not in TTA_VIEWS:
            raise ModelError(f"test-time augmentation must be one of {', '.join(TTA_VIEWS)}, got {value!r}")
        self._tta = value

    @torch.inference_mode()
    def predict_working_probs(self, image: np.ndarray, cancel: threading.Event | None = None,
                              scale: float | None = None) -> np.ndarray:
        """C x h x w float32 probabilities of an RGB image at the working scale, not brought back to
        the image's size (C planes of a 6000x4000 image would not fit)."""
        image = self._check_image(image)
        if self.tta:
            return self._tta_probs(image, scale, cancel, None)
        return self._predict_native(self._to_working(image, scale), cancel, None, "probs")[1]

    def _working_size(self, w: int, h: int, scale: float | None) -> tuple[float, tuple[int, int]]:
        """(factor, (width, height)) of a w x h image at the working scale (`working_factor`, or `scale`),
        bounded for any shape (see nets.working_size)."""
        asked = self.working_factor(w, h) if scale is None else check_scale(scale, derived=True)
        factor, size, bounded = working_dims(w, h, asked, self.output_stride)
        if bounded and len(self._capped) < 3 and (w, h) not in self._capped:  # said once per size, 3 sizes at most
            self._capped.add((w, h))
            self._message(f"a {w}x{h} image is predicted at {size[0]}x{size[1]} working pixels, not at {asked:.3g}x "
                          "its size (the working size of extreme shapes is bounded)")
        return factor, size

    def _to_working(self, image: np.ndarray, scale: float | None) -> np.ndarray:
        """The image resized to the working scale (`working_factor`, or `scale`); itself if that is 1."""
        h, w = image.shape[:2]
        _, size = self._working_size(w, h, scale)
        if size == (w, h):
            return image
        smaller = size[0] * size[1] < w * h
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA if smaller else cv2.INTER_LINEAR)

    def _predict(self, image, cancel, progress, scale, extra: str | None):
        image = self._check_image(image)
        h, w = image.shape[:2]
        if self.tta:
            probs = self._tta_probs(image, scale, cancel, progress)
        else:
            small = self._to_working(image, scale)
            if small is image:
                return self._predict_native(image, cancel, progress, extra)
            probs = self._predict_native(small, cancel, progress, "probs")[1]
        _check(cancel)
        return upsample(probs, h, w, with_probs=extra == "probs", with_margin=extra == "margin")

    def _tta_probs(self, image: np.ndarray, scale: float | None, cancel, progress) -> np.ndarray:
        """K x h x w probabilities at the working size, averaged over the `tta` views (each view
        resized, mirrored, predicted, and brought back to the working size)."""
        views = TTA_VIEWS[self.tta]
        factor, size = self._working_size(image.shape[1], image.shape[0], scale)
        total, base_scale, base = None, None, None
        for i, (s, mirrored) in enumerate(views):
            if s != base_scale:  # a view and its mirror image share one resize of the (maybe huge) image
                base_scale, base = s, self._to_working(image, factor * s)
            view = np.ascontiguousarray(base[:, ::-1]) if mirrored else base
            probs = self._predict_native(view, cancel, None, "probs")[1]
            if mirrored:
                probs = probs[:, :, ::-1]
            if probs.shape[1:] != (size[1], size[0]):
                probs = cv2.resize(np.ascontiguousarray(probs.transpose(1, 2, 0)), size,
                                   interpolation=cv2.INTER_LINEAR).reshape(size[1], size[0], -1).transpose(2, 0, 1)
            total = probs.copy() if total is None else total + probs
            if progress:
                progress(i + 1, len(views))
            _check(cancel)
        return np.ascontiguousarray(total / len(views), dtype=np.float32)

    def working_factor(self, width: int, height: int) -> float:
        """The factor a width x height image is resized by before the network: `scale` if given,
        else the one that brings its short side to the card's `input.train_short_side` (the scale
        the model learned at), else the card's fixed `input.resize`."""
        if self.scale is not None:
            return float(self.scale)
        if self.train_short_side:
            return self.train_short_side / max(1, min(width, height))
        return self.input_resize

    def _predict_native(self, image, cancel, progress, extra: str | None):
        """(labels, K,h,w softmax probabilities for `extra="probs"`, the HxW softmax margin for
        `extra="margin"`, else None) at the image's own size. A side shorter than the output stride
        is mirrored up to it for the network, and the result cropped back."""
        h, w = image.shape[:2]
        if min(h, w) < self.output_stride:
            labels, more = self._predict_native(pad_to(image, self.output_stride), cancel, progress, extra)
            return labels[:h, :w], (None if more is None else more[..., :h, :w])
        tile = self.tile_size
        while True:
            try:
                if max(h, w) > tile:
                    result = self._predict_tiled(image, tile, cancel, progress, extra)
                else:
                    _check(cancel)
                    out = self._forward(self.preprocess([image]))[0]
                    result = out if extra else out.argmax(0)
                    if progress:
                        progress(1, 1)
                break
            except Exception as e:
                if not is_out_of_memory(e):
                    raise
                tile = self._after_oom(e, f"a {w}x{h} image", min(tile, max(h, w)))
        return self._finish(result, extra)

    def _after_oom(self, error: BaseException, what: str, tile: int) -> int:
        """Tile size to retry with after running out of memory (moving to the CPU when tiles are minimal)."""
        if self._device.type == "cuda":
            torch.cuda.empty_cache()
        smaller = max(MIN_TILE, (tile // 2 // self.output_stride) * self.output_stride)
        if smaller < tile and smaller >= self.tile_overlap // 2 + self.output_stride:
            self._message(f"out of memory on {self.device} predicting {what}; retrying in tiles of {smaller} px")
            return smaller
        if self._device.type != "cpu":
            self._message(f"out of memory on {self.device} predicting {what} even in tiles of {tile} px; "
                          "falling back to the CPU")
            self._move_to(torch.device("cpu"))
            return self.tile_size
        raise ModelError(f"out of memory predicting {what} on the CPU even in tiles of {tile} px") from error

    def _predict_tiled(self, image, tile, cancel, progress, extra):
        """Logits K,H,W (`extra="probs"`), (labels, margin) tensors (`extra="margin"`: the margin is
        taken tile by tile, so no K,H,W array exists) or labels, predicted tile by tile."""
        h, w = image.shape[:2]
        overlap = self.tile_overlap if tile >= self.tile_overlap + self.output_stride else tile // 2
        grid = tiles(h, w, tile, overlap, self.output_stride)
        k = self.labelset.num_classes
        out = (torch.empty((k, h, w), dtype=torch.float32) if extra == "probs"
               else torch.empty((h, w), dtype=torch.uint8))
        conf = torch.empty((h, w), dtype=torch.float32) if extra == "margin" else None
        done = 0
        for group in same_shape_groups(grid, self.batch_size):
            _check(cancel)
            batch = [image[r.start:r.end, c.start:c.end] for r, c in group]
            logits = self._forward(self.preprocess(batch))
            for (r, c), lg in zip(group, logits):
                part = lg[:, r.own_start - r.start:r.own_end - r.start, c.own_start - c.start:c.own_end - c.start]
                own = (slice(r.own_start, r.own_end), slice(c.own_start, c.own_end))
                if extra == "probs":
                    out[(slice(None), *own)] = part.cpu()
                    continue
                out[own] = part.argmax(0).to(torch.uint8).cpu()
                if conf is not None:
                    conf[own] = _margin(part).cpu()
            done += len(group)
            if progress:
                progress(done, len(grid))
        return (out, conf) if conf is not None else out

    def _finish(self, result, extra: str | None):
        if isinstance(result, tuple):  # tiled labels and margin
            return result[0].numpy(), result[1].numpy()
        if not extra:
            return result.to(torch.uint8).cpu().numpy(), None
        if self._device.type == "cpu":
            probs = softmax(result.detach().float().numpy())
        else:
            probs = torch.softmax(result.float(), dim=0).cpu().numpy()
        labels = probs.argmax(0).astype(np.uint8)
        if extra == "margin":
            return labels, margin(probs.transpose(1, 2, 0), labels)
        return labels, probs.astype(np.float32, copy=False)

    # --- many images -----------------------------------------------------------------------

    @torch.inference_mode()
    def predict_batch(self, images: list[np.ndarray], cancel: threading.Event | None = None) -> list[np.ndarray]:
        """Labels for same-size images in one forward pass (falls back to one by one on OOM)."""
        images = [self._check_image(im) for im in images]
        h, w = images[0].shape[:2]
        if (len({im.shape for im in images}) > 1 or max(h, w) > self.tile_size or self.tta
                or min(h, w) < self.output_stride
                or abs(self.working_factor(w, h) - 1.0) > 1e-6):
            return [self.predict(im, cancel=cancel) for im in images]
        _check(cancel)
        try:
            labels = self._forward(self.preprocess(images)).argmax(1).to(torch.uint8).cpu().numpy()
            return list(labels)
        except Exception as e:
            if not is_out_of_memory(e) or len(images) == 1:
                if is_out_of_memory(e):
                    return [self.predict(images[0], cancel=cancel)]
                raise
            if self._device.type == "cuda":
                torch.cuda.empty_cache()
            self._message(f"out of memory on {self.device} with a batch of {len(images)}; "
                          "predicting one image at a time")
            self.batch_size = 1
            return [self.predict(im, cancel=cancel) for im in images]

    def predict_paths(self, paths: Iterable[str | Path], batch_size: int | None = None,
                      cancel: threading.Event | None = None, progress: Progress | None = None,
                      confidence: bool = False) -> Iterator[tuple[Path, object, str | None]]:
        """Yield (path, labels, None) per file in order, or (path, None, error) for a file that fails;
        with `confidence`, (path, (labels, confidence or None), None) as `predict_confidence` gives.

        Files are decoded on a thread pool ahead of the model; consecutive
        images of the same size are batched. Raises Cancelled between batches.
        """
        paths = [Path(p) for p in paths]
        batch_size = max(1, int(batch_size or self.batch_size))
        total, done = len(paths), 0
        lookahead = max(2 * batch_size, self.workers * 2)
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="segstudio-decode")
        pending: deque = deque()
        queue = iter(paths)

        def fill():
            while len(pending) < lookahead:
                p = next(queue, None)
                if p is None:
                    return
                pending.append((p, pool.submit(load_image, p)))

        try:
            fill()
            while pending:
                _check(cancel)
                path, fut = pending.popleft()
                fill()
                try:
                    image = fut.result()
                except Exception as e:  # this file cannot be decoded: report it, keep going
                    results = [(path, None, _error_text(e, path))]
                else:
                    batch = [(path, image)]
                    while len(batch) < batch_size and pending:
                        next_path, next_fut = pending[0]
                        if next_fut.exception() is not None or next_fut.result().shape != image.shape:
                            break
                        pending.popleft()
                        fill()
                        batch.append((next_path, next_fut.result()))
                    try:
                        labels = ([self.predict_confidence(im, cancel=cancel) for _, im in batch] if confidence
                                  else self.predict_batch([im for _, im in batch], cancel=cancel))
                        results = [(p, lb, None) for (p, _), lb in zip(batch, labels)]
                    except SegstudioError as e:
                        results = [(p, None, _error_text(e, p)) for p, _ in batch]
                for item in results:
                    done += 1
                    yield item
                    if progress:
                        progress(done, total)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def _margin(logits: torch.Tensor) -> torch.Tensor:
    """p(best) - p(second best) per pixel of K,h,w logits."""
    if logits.shape[0] < 2:
        return torch.ones(logits.shape[1:], dtype=torch.float32, device=logits.device)
    top2 = torch.topk(torch.softmax(logits.float(), dim=0), 2, dim=0).values
    return (top2[0] - top2[1]).clamp_(0.0, 1.0)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("prediction cancelled")


def _error_text(e: BaseException, path: Path) -> str:
    text = str(e)
    return text if str(path) in text or path.name in text else f"{path}: {text}"

