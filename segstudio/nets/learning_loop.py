"""The learning loop's training side: fine-tune a project model on the images a person has finished.

The studio's "Learn As I Annotate" (gui/learning_loop.py) and the effort
benchmark's `--sequential` mode (benchmarks/bench_effort.py) call the same
function, `finetune(...)`: it trains an `fcn8s-lite0` for a short time budget
on the listed images of a project folder (a train list of their stems, no
validation split), starting from the newest project model, else from the
selected model when it is an fcn8s-lite0 of the same classes, else from the
ImageNet encoder, and writes the result as the next version,
`<images>/segstudio-project-model/project-vN.safetensors` + `.json`. Its card
carries `project_model`: the version, how many images it was trained on, and
what it started from.

The run is meant to stay out of the way of the person annotating: it uses one
torch thread (`LoopSettings.threads`) and lowers the priority of its own
thread (Linux: a thread has its own nice value). Cancelling (the `cancel`
event) stops it between steps and writes nothing. Qt-free.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from segstudio.core.atomic import atomic_write_text
from segstudio.core.labels import LabelSet

from .errors import ModelError

#: The folder beside the project's images that holds the project model's versions.
MODEL_DIR = "segstudio-project-model"
#: The architecture the loop trains (its pretrained features also serve the similar-region click).
LOOP_ARCH = "fcn8s-lite0"
PREFIX = "project-v"


@dataclass
class LoopSettings:
    minutes: float = 1.5      # time budget of one fine-tune (the poly schedule runs over it)
    threads: int = 1          # torch CPU threads while it runs
    batch_size: int = 4
    short_side: int = 360
    crop: str | None = "320x320"  # None: whole images (tests with tiny ones)
    lr_from_model: float = 3e-4  # continuing a trained model: gentler than the ImageNet start's 1e-3
    nice: int = 10            # added to the training thread's nice value (where the OS allows it)
    device: str = "cpu"


@dataclass
class LoopResult:
    path: Path          # the new version's weights
    version: int
    images: int         # how many images it was trained on
    base: str           # what it started from
    stopped: str        # "finished" or "time budget"


def model_dir(images_dir: str | Path) -> Path:
    return Path(images_dir) / MODEL_DIR


def versions(folder: str | Path) -> list[tuple[int, Path]]:
    """(version, weights path) of the project model's versions in `folder`, oldest first."""
    folder = Path(folder)
    found = []
    if folder.is_dir():
        for p in folder.glob(f"{PREFIX}*.safetensors"):
            tail = p.stem[len(PREFIX):]
            if tail.isdigit() and p.with_suffix(".json").is_file():
                found.append((int(tail), p))
    return sorted(found)


def latest(folder: str | Path) -> Path | None:
    v = versions(folder)
    return v[-1][1] if v else None


def feature_problem(card: dict | None) -> str | None:
    """Why a model (its card) cannot give the pretrained features (None if it can)."""
    if card is None:
        return "no model is selected"
    if card.get("arch") != LOOP_ARCH:
        return f"{card.get('name', 'the model')} is a {card.get('arch')}; this needs an {LOOP_ARCH} model"
    return None


def _usable(path: Path | None, num_classes: int) -> bool:
    from .checkpoint import read_card

    if path is None:
        return False
    try:
        card = read_card(path)
    except ModelError:
        return False
    return feature_problem(card) is None and card.get("num_classes") == num_classes


def choose_base(folder: Path, selected: Path | None, num_classes: int) -> Path | None:
    """What the next version starts from: the newest version, else `selected` when it is an fcn8s-lite0
    with `num_classes` classes, else None (the ImageNet encoder and a new head)."""
    for candidate in (latest(folder), selected):
        if _usable(candidate, num_classes):
            return candidate
    return None


def lower_thread_priority(nice: int) -> None:
    """Raise the calling thread's nice value by `nice` (Linux: per thread); quietly nothing elsewhere."""
    if nice <= 0 or not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        pass


def train_config(images_dir: Path, masks_dir: Path, list_file: Path, labelset: LabelSet, base: Path | None,
                 out: Path, name: str, settings: LoopSettings, seed: int = 0):
    from .train_config import TrainConfig, arch_defaults

    values = dict(images=str(images_dir), masks=str(masks_dir), train_list=str(list_file),
                  labels=labelset.to_dict(), val_fraction=0.0, name=name, out=str(out),
                  max_minutes=settings.minutes, epochs=1000, threads=settings.threads,
                  batch_size=settings.batch_size, short_side=settings.short_side,
                  workers=0, cache=True, seed=seed, device=settings.device,
                  # batch-norm statistics recomputed over a handful of images: held-out CamVid accuracy of a
                  # 5-image, 1-minute fine-tune of the CamVid lite0 0.734 -> 0.598 with, 0.734 without
                  bn_recompute=False)
    cfg = TrainConfig().updated(arch_defaults(LOOP_ARCH), "architecture defaults")
    if settings.crop is None:
        cfg = dataclasses.replace(cfg, crop=None)
    else:
        values["crop"] = settings.crop
    if base is not None:
        values.update(init=str(base), lr=settings.lr_from_model)
    else:
        values.update(arch=LOOP_ARCH, pretrained="imagenet")
    return cfg.updated(values, "learning loop")


def finetune(images_dir: str | Path, masks_dir: str | Path, stems: list[str], labelset: LabelSet,
             selected: Path | None = None, settings: LoopSettings | None = None,
             cancel: threading.Event | None = None, progress: Callable[[str], None] | None = None,
             folder: str | Path | None = None) -> LoopResult | None:
    """Train the next project model version on the images `stems` (their masks in `masks_dir`); None if
    cancelled (nothing written). `folder`: where versions live (default `<images_dir>/MODEL_DIR`)."""
    from .trainer import Trainer

    settings = settings or LoopSettings()
    if not stems:
        raise ModelError("the learning loop needs at least one finished image")
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    folder = Path(folder) if folder is not None else model_dir(images_dir)
    folder.mkdir(parents=True, exist_ok=True)
    version = (versions(folder)[-1][0] if versions(folder) else 0) + 1
    base = choose_base(folder, selected, labelset.num_classes)
    name = f"{PREFIX}{version}"
    run = folder / f"run-{name}"
    shutil.rmtree(run, ignore_errors=True)  # a cancelled earlier run of this version (our own folder)
    run.mkdir()
    list_file = run / "train.txt"
    atomic_write_text(list_file, "".join(f"{s}\n" for s in stems))
    lower_thread_priority(settings.nice)
    cfg = train_config(images_dir, masks_dir, list_file, labelset, base, run, name, settings, seed=version)
    say = progress or (lambda _t: None)
    say(f"training {name} on {len(stems)} image(s) from {base.stem if base else 'ImageNet'}")
    try:
        result = Trainer(cfg, cancel=cancel).run()
        if result.stopped == "cancelled":
            return None
        return _install(result.last_path, folder, name, version, len(stems), base, result.stopped)
    finally:
        shutil.rmtree(run, ignore_errors=True)


def _install(trained: Path, folder: Path, name: str, version: int, images: int, base: Path | None,
             stopped: str) -> LoopResult:
    """Copy the run's weights to `folder/NAME.safetensors` with a card that says what the version is."""
    import json

    from segstudio.core.atomic import atomic_path

    from .checkpoint import card_path, read_card

    card = read_card(trained)
    card["name"] = name
    base_name = base.stem if base is not None else "ImageNet encoder"
    card["project_model"] = {"version": version, "trained_on_images": images, "base": base_name}
    dest = folder / f"{name}.safetensors"
    with atomic_path(dest) as tmp:
        shutil.copyfile(trained, tmp)
    atomic_write_text(card_path(dest), json.dumps(card, indent=2) + "\n")
    return LoopResult(dest, version, images, base_name, stopped)


def describe(path: Path | None) -> str:
    """"project model v3 · trained on 12 images" for a version's weights ("" if unreadable)."""
    from .checkpoint import read_card

    if path is None:
        return ""
    try:
        info = read_card(path).get("project_model") or {}
    except ModelError:
        return ""
    return f"project model v{info.get('version', '?')} · trained on {info.get('trained_on_images', '?')} images"


def repredict_order(images: list[Path], current: Path | None, wanted: Callable[[Path], bool],
                    limit: int | None = None) -> list[Path]:
    """The images `wanted` says may be re-predicted, those after `current` first (the ones the person will
    see next), then from the start; at most `limit`."""
    i = images.index(current) + 1 if current in images else 0
    order = [p for p in images[i:] + images[:i] if p != current and wanted(p)]
    return order[:limit] if limit is not None else order


def predict_images(weights: Path, images: list[Path], settings: LoopSettings,
                   cancelled: Callable[[], bool], emit: Callable[[Path, object], None]) -> int:
    """Predict `images` with a project model version on `settings.threads` torch threads; `emit(path,
    labels)` per image (a failed image is skipped). Returns how many were predicted."""
    import torch

    from segstudio.core.imageio import load_image
    from segstudio.core.errors import SegstudioError

    from .predictor import Predictor

    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        predictor = Predictor.from_checkpoint(str(weights), device=settings.device, backend="torch")
        done = 0
        for path in images:
            if cancelled():
                break
            try:
                labels = predictor.predict(load_image(path))
            except (OSError, SegstudioError):
                continue
            emit(path, labels)
            done += 1
        return done
    finally:
        torch.set_num_threads(threads)
