"""The CPU inference backend: torch eager or onnxruntime, behind one nn.Module.

Measured (benchmarks/bench_inference.py, shipped models at 360x480 on 2 CPU
cores), onnxruntime is the fastest CPU path that keeps the labels: see the
benchmarks table of docs/guide/benchmarks.md. `BackendSwitch` wraps a model for the predictor:

- "torch": the model itself, always;
- "onnxruntime": the model exported to ONNX (cached per weights digest in the
  user's cache folder, see onnx_export.cached_onnx), prepared before the first
  image; an error if onnxruntime is missing or the export disagrees;
- "auto": onnxruntime at once when these weights were exported before (the
  cache); otherwise torch, and from the PREPARE_AFTER-th image on (a batch,
  where the one-off export of ~10 s pays for itself) the export is prepared in
  the background and used as soon as it is ready. For a model loaded from a
  file that is a separate, low-priority process (`onnx_prepare`): it neither
  holds the GIL nor takes the cores from the predictions, and it is not
  waited for: a command that ends first leaves it to finish the cache for the
  next run. A model without a file is exported on a thread. Torch for good if
  onnxruntime is not installed or the export's labels agree with torch's on
  fewer than 99.9 % of the pixels of the bundled samples (checked once per
  weights, the verdict cached).

onnxruntime only ever runs float32 CPU inputs without autocast through a model
wholly in eval mode; anything else (CUDA, MPS, bf16, Monte-Carlo dropout's
training-mode dropout layers) goes to the torch model.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from segstudio.core.atomic import atomic_write_text
from segstudio.core.errors import SegstudioError

from .errors import ModelError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnxruntime")
MIN_AGREEMENT = 0.999
CHECK_SAMPLES = 2
PREPARE_AFTER = 3
#: An export lock file older than this is left over from a process that died.
STALE_LOCK_S = 900


def ort_available() -> bool:
    """Whether onnxruntime and the exporter's onnx/onnxscript are installed. Looked up, not imported:
    onnxscript alone takes about a second of CPU to import, which only an export needs."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("onnxruntime", "onnx", "onnxscript"))


def _sample_inputs(card: dict) -> list[np.ndarray]:
    from segstudio import paths
    from segstudio.core.imageio import list_images, load_image

    from .onnx_export import card_input

    folder = paths.samples_dir()
    files = list_images(folder)[:CHECK_SAMPLES] if folder.is_dir() else []
    if files:
        return [card_input(load_image(p), card) for p in files]
    rng = np.random.default_rng(0)  # no samples installed: a synthetic image still checks the graph
    return [card_input(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), card)]


def _cache_files(model: nn.Module, card: dict):
    from .onnx_export import cache_dir, weights_digest

    digest = weights_digest(model, card)[:32]
    return cache_dir() / "onnx" / f"{digest}.onnx", cache_dir() / "onnx" / f"{digest}.verdict.json"


def _read_verdict(path) -> dict | None:
    try:
        verdict = json.loads(path.read_text(encoding="utf-8"))
        return verdict if isinstance(verdict.get("agreement"), float) else None
    except (OSError, ValueError, AttributeError):
        return None


def prepare_onnxruntime(model: nn.Module, card: dict, threads: int | None = None,
                        cached_only: bool = False) -> nn.Module | None:
    """An OrtModule for `model` (export cached; agreement with torch checked once per weights).

    With `cached_only`, None unless a checked export of these weights is in the cache.
    """
    from .onnx_export import OrtModule, label_agreement, onnx_bytes, ort_session

    onnx_path, verdict_path = _cache_files(model, card)
    verdict = _read_verdict(verdict_path)
    if verdict is not None and verdict["agreement"] < MIN_AGREEMENT:
        raise _disagreement(card, verdict["agreement"])
    if verdict is not None and onnx_path.is_file():
        try:
            return OrtModule(_checked_session(ort_session(onnx_path, threads), card), model)
        except Exception as e:  # noqa: BLE001 (onnxruntime raises bare Exception subclasses) truncated or foreign
            log.warning("%s: the cached ONNX export is damaged or not this model's (%s); removed, exported again",
                        onnx_path, str(e).splitlines()[0][:200] if str(e) else type(e).__name__)
            for f in (onnx_path, verdict_path):
                f.unlink(missing_ok=True)
    if cached_only:
        return None
    # Export and check once; the checked session is the one returned (no second hash or session build).
    data = onnx_bytes(model, card)
    session = ort_session(data, threads)
    agreement = min(label_agreement(model, session, x) for x in _sample_inputs(card))
    if agreement >= MIN_AGREEMENT:
        from segstudio.core.atomic import atomic_write_bytes

        atomic_write_bytes(onnx_path, data)
    atomic_write_text(verdict_path, json.dumps({"agreement": agreement, "name": card.get("name")}))
    if agreement < MIN_AGREEMENT:
        raise _disagreement(card, agreement)
    return OrtModule(session, model)


def _checked_session(session, card: dict):
    """`session` if it takes the image input and gives the card's classes at the input's size (a
    32x32 trial); raises otherwise."""
    from .onnx_export import INPUT_NAME, OUTPUT_NAME

    names = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
    if names[0] != [INPUT_NAME] or OUTPUT_NAME not in names[1]:
        raise ModelError(f"inputs {names[0]} and outputs {names[1]}, not [{INPUT_NAME!r}] and {OUTPUT_NAME!r}")
    shape = session.run([OUTPUT_NAME], {INPUT_NAME: np.zeros((1, 3, 32, 32), np.float32)})[0].shape
    if tuple(shape) != (1, card["num_classes"], 32, 32):
        raise ModelError(f"a 1x3x32x32 input gives {tuple(shape)}, not (1, {card['num_classes']}, 32, 32)")
    return session


def _disagreement(card: dict, agreement: float) -> ModelError:
    return ModelError(f"onnxruntime disagrees with torch for {card.get('name') or card['arch']} "
                      f"({100 * agreement:.3f} % of sample pixels agree)")


class BackendSwitch(nn.Module):
    """`model` on torch, or on onnxruntime once prepared (see the module docstring)."""

    def __init__(self, model: nn.Module, card: dict, backend: str = "auto",
                 on_message=None, background: bool = True, source: str | Path | None = None) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        super().__init__()
        self.model = model
        self.train(model.training)  # a wrapper of an eval-mode model is in eval mode too
        for attr in ("arch", "width", "arch_options", "num_classes", "output_stride", "tile_overlap"):
            if hasattr(model, attr):
                setattr(self, attr, getattr(model, attr))
        self.backend = backend
        self._ort: nn.Module | None = None
        self._ready = threading.Event()
        self._on_message = on_message
        self._card = json.loads(json.dumps(card))
        self._background = background
        self._source = source
        self._proc: subprocess.Popen | None = None
        self._files: list[Path] = []  # the cache files the export process writes
        self._mode = ""  # how it is being prepared: "thread" or "process"
        self._calls = 0
        if backend == "torch" or (backend == "auto" and not ort_available()):
            self._ready.set()
        elif backend == "onnxruntime":
            self._ort = prepare_onnxruntime(model, self._card)
            self._ready.set()
        else:
            self._try_cache()

    def _try_cache(self) -> bool:
        """Use a checked export of these weights from the cache, if there is one (True when settled)."""
        try:
            self._ort = prepare_onnxruntime(self.model, self._card, cached_only=True)
        except SegstudioError as e:  # a cached verdict against onnxruntime: stay on torch
            self._report(e)
            self._ready.set()
            return True
        if self._ort is not None:
            self._ready.set()
        return self._ort is not None

    def _report(self, error: BaseException | str) -> None:
        text = (f"onnxruntime not used for {self._card.get('name') or self._card['arch']}: {error}; "
                "predicting with torch")
        if self._on_message is not None:  # the predictor shows (or logs) it
            self._on_message(text)
        else:
            log.warning(text)

    def prepare(self) -> None:
        """Start preparing onnxruntime now (auto does it by itself from the PREPARE_AFTER-th image)."""
        if self._ready.is_set() or self._calls < 0:
            return
        self._calls = -1  # started
        if not self._background:
            self._prepare()
            return
        if self._on_message is not None:
            self._on_message("preparing onnxruntime for this model in the background (a one-off ONNX export, "
                             "cached for later runs)")
        if self._source is not None:
            self._files = _cache_files(self.model, self._card)
            self._proc = _start_export_process(self._source, self._files)
            if self._proc is not None or _export_locked(self._files):
                self._mode = "process"  # polled in forward()
                return
        self._mode = "thread"
        # Not a daemon: the interpreter waits for it at exit. Killing it inside the exporter's
        # C++ aborts the process ('terminate called without an active exception').
        threading.Thread(target=self._prepare, name="segstudio-onnx-prepare").start()

    def _prepare(self) -> None:
        try:
            # Exported from a copy: tracing must not meet the predictions running on the model.
            self._ort = prepare_onnxruntime(copy.deepcopy(self.model), self._card)
        except Exception as e:  # noqa: BLE001 (onnxruntime raises bare Exception subclasses): torch goes on
            self._report(e)
        finally:
            self._ready.set()

    def _poll_process(self) -> None:
        """Switch to the export process's result once it is in the cache; torch for good if it failed."""
        if all(f.is_file() for f in self._files) and self._try_cache():
            return
        exited = self._proc.poll() is not None if self._proc is not None else not _export_locked(self._files)
        if exited and not self._try_cache():  # it may have finished between the two looks
            self._report("the background ONNX export did not finish" if self._proc is None
                         else f"the background ONNX export failed (exit status {self._proc.returncode})")
            self._ready.set()

    @property
    def active(self) -> str:
        """The backend that runs the next float32 CPU input: 'onnxruntime' or 'torch'."""
        return "onnxruntime" if self._ort is not None else "torch"

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the backend is settled (True), or `timeout` seconds (False)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self._mode == "process" and not self._ready.is_set():
            self._poll_process()
            if end is not None and time.monotonic() >= end:
                return self._ready.is_set()
            time.sleep(0.1)
        return self._ready.wait(timeout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.device.type != "cpu" or x.dtype != torch.float32 or torch.is_autocast_enabled("cpu")
                or any(m.training for m in self.model.modules())):  # the export is the eval graph (MC dropout: torch)
            return self.model(x)
        if self._mode == "process" and not self._ready.is_set():
            self._poll_process()
        if self._ort is not None:
            return self._ort(x)
        if self._calls >= 0 and not self._ready.is_set():
            self._calls += 1
            if self._calls >= PREPARE_AFTER:
                self.prepare()
        return self.model(x)


def _export_locked(files) -> bool:
    """Whether a live export of these weights is under way (its lock file is recent)."""
    try:
        return time.time() - files[0].with_suffix(".exporting").stat().st_mtime < STALE_LOCK_S
    except OSError:
        return False


def _start_export_process(source: str | Path, files) -> subprocess.Popen | None:
    """Start `python -m segstudio.nets.onnx_prepare SOURCE LOCK` detached; None if another process is
    exporting these weights (or it cannot start)."""
    lock = files[0].with_suffix(".exporting")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        if _export_locked(files):
            return None
        lock.unlink(missing_ok=True)  # stale
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except OSError:
        return None
    try:
        return subprocess.Popen([sys.executable, "-m", "segstudio.nets.onnx_prepare", str(source), str(lock)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, close_fds=True)
    except OSError:
        lock.unlink(missing_ok=True)
        return None
