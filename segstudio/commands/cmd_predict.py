"""`segstudio predict`: label PNGs for images with a model (name or checkpoint path).

Inputs are image files or folders (their images, not recursive). One PNG per
image, named by the image's stem, is written to --out as a palette PNG of the
model's label set (with --confidence, also its confidence map in --out/.confidence,
as the studio saves it). An image that cannot be read is reported and skipped; the
exit status is then 1, but every other image is still written.

Nothing is written over an input: an --out folder that is an input folder,
or a label PNG that would resolve (symlinks included) to an input image, is
refused before the model is loaded. Existing PNGs in --out are replaced only
with --overwrite.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from segstudio.commands import arg_types
from segstudio.core.errors import SegstudioError
from segstudio.core.imageio import list_images
from segstudio.core.output_guard import refuse_existing, refuse_input_folder, refuse_inputs


def add_arguments(p) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", type=Path, help="image files or folders of images")
    p.add_argument("--model", help="model name (see 'segstudio models') or checkpoint path "
                                   "(default: the default model, fcn8s-lite0-camvid when shipped)")
    p.add_argument("--out", required=True, type=Path,
                   help="folder for the label PNGs (not an input folder)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace label PNGs that already exist in --out (never an input)")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=arg_types.count(1, 4096, "batch size"), default=None, help="images per forward pass (default: 4 on GPU, 1 on CPU)")
    p.add_argument("--tile-size", type=arg_types.count(64, 65536, "tile size"), default=1024,
                   help="images larger than this (px) are predicted in overlapping tiles (default 1024)")
    p.add_argument("--tile-overlap", type=arg_types.count(0, 16384, "tile overlap"), default=None, help="tile overlap in px (default: per architecture)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="arithmetic: auto = bf16 (else fp16) autocast on CUDA, fp32 elsewhere; "
                        "bf16 also works on CPU (faster on CPUs with AVX512-BF16/AMX)")
    p.add_argument("--workers", type=arg_types.count(1, 256, "workers"), default=None, help="image decoding threads (default: up to 4)")
    p.add_argument("--backend", default=None, choices=["auto", "torch", "onnxruntime"],
                   help="CPU inference: auto (default; $SEGSTUDIO_BACKEND overrides it) = onnxruntime when it is "
                        "installed and its labels match torch's, measured faster; the model's ONNX export is "
                        "cached per weights")
    p.add_argument("--scale", type=arg_types.scale, default=None,
                   help="resize images by this factor (0.01 to 8) before the network (1.0 = native size); default: the "
                        "scale the model was trained at (the card's input.train_short_side)")
    p.add_argument("--tta", choices=["flip", "flip+scales"], default=None,
                   help="test-time augmentation: average the prediction of the image and its mirror image "
                        "(flip, 2x the time) and of 0.75x / 1.25x rescaled views (flip+scales, 6x)")
    p.add_argument("--confidence", action="store_true",
                   help="also save each prediction's per-pixel confidence (softmax margin, 8-bit PNG) in "
                        "OUT/.confidence/, where the studio's heat map and review queue read it")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


class ProgressBar:
    """A one-line text progress bar on stderr (a line per ~10% when stderr is not a terminal)."""

    def __init__(self, total: int, stream=None, enabled: bool = True) -> None:
        stream = stream if stream is not None else sys.stderr
        self.total, self.stream, self.enabled = total, stream, enabled
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.start = time.perf_counter()
        self._last_step = -1

    def update(self, done: int) -> None:
        if not self.enabled or not self.total:
            return
        frac = done / self.total
        rate = done / max(1e-9, time.perf_counter() - self.start)
        width = 30
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        text = f"[{bar}] {done}/{self.total} images  {rate:.1f} img/s"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if done == self.total else ""))
        else:
            step = int(frac * 10)
            if step == self._last_step and done != self.total:
                return
            self._last_step = step
            self.stream.write(text + "\n")
        self.stream.flush()


def collect_inputs(inputs: list[Path]) -> tuple[list[Path], list[str]]:
    """Image paths from files and folders, and problems with the inputs themselves."""
    images, problems = [], []
    for item in inputs:
        if item.is_dir():
            found = list_images(item)
            if not found:
                problems.append(f"{item}: folder contains no images")
            images.extend(found)
        elif item.is_file():
            images.append(item)
        else:
            problems.append(f"{item}: no such file or folder")
    seen: dict[str, Path] = {}
    for path in images:
        if path.stem in seen and seen[path.stem] != path:
            raise SegstudioError(f"two inputs would write the same {path.stem}.png: {seen[path.stem]} and {path}")
        seen[path.stem] = path
    return list(dict.fromkeys(images)), problems


def plan_outputs(images: list[Path], inputs: list[Path], out: Path, overwrite: bool,
                 confidence: bool = False) -> dict[Path, Path]:
    """{image: label PNG in `out`}, after refusing any write over an input or, without
    `overwrite`, over an existing file (confidence maps too, with `confidence`); raises
    OutputConflictError naming both paths."""
    refuse_input_folder(out, [p for p in inputs if p.is_dir()], what="--out")
    targets = {image: out / f"{image.stem}.png" for image in images}
    from segstudio.core.assist.confidence_store import confidence_path

    extra = [confidence_path(out, image.stem) for image in images] if confidence else []
    refuse_inputs(targets.values(), images, what="label PNG")
    refuse_inputs(extra, images, what="confidence PNG")
    if not overwrite:
        refuse_existing(targets.values(), what="label PNG")
        refuse_existing(extra, what="confidence PNG")
    return targets


def _check_output_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".segstudio-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise SegstudioError(f"cannot write to the output folder {out}: {e.strerror or e}") from None


def _write(target: Path, labels, labelset) -> None:
    """The label PNG, and after it the confidence map when `labels` is (labels, confidence)."""
    from segstudio.core.imageio import write_label_png

    labels, conf = labels if isinstance(labels, tuple) else (labels, None)
    write_label_png(target, labels, labelset)
    if conf is not None:
        from segstudio.core.assist.confidence_store import save_confidence

        save_confidence(target.parent, target.stem, conf)


def _message(text: str) -> None:
    print(f"segstudio predict: {text}", file=sys.stderr)


def load_predictor(args):
    """The Predictor for --model (the default model when not given) with the command's options."""
    from segstudio.nets.predictor import Predictor

    model = args.model
    if model is None:
        from segstudio.nets.checkpoint import default_model

        info = default_model()
        if info is None:
            raise SegstudioError("no model found: give --model PATH, or put one in "
                                 "models/ or the user models folder (see 'segstudio models')")
        model = info.path
    return Predictor.from_checkpoint(
        model, device=args.device, tile_size=args.tile_size, tile_overlap=args.tile_overlap,
        batch_size=args.batch_size, precision=args.precision, workers=args.workers, on_message=_message,
        backend=args.backend, scale=getattr(args, "scale", None), tta=getattr(args, "tta", None))


def run(args) -> int:
    from segstudio.commands.predict_shard import Shard

    shard = Shard.from_env()  # one shard of everything unless started by torchrun
    shard.start()
    try:
        return _run(args, shard)
    finally:
        shard.close()


def _run(args, shard) -> int:
    images, problems = collect_inputs(args.inputs)
    for msg in problems if shard.is_main else ():
        print(f"segstudio predict: {msg}", file=sys.stderr)
    if not images:
        raise SegstudioError("no images to predict (" + "; ".join(problems) + ")" if problems else "no images to predict")
    targets = plan_outputs(images, args.inputs, args.out, args.overwrite, getattr(args, "confidence", False))
    if shard.is_main:
        _check_output_folder(args.out)
    shard.barrier()  # every rank has planned (and refused) before any rank writes
    images = shard.take(images)
    args.device = shard.device(args.device)

    predictor = load_predictor(args)
    card = predictor.card
    if not args.quiet:
        print(f"model {card['name']} ({card['arch']}, width {card['width']:g}, "
              f"{predictor.labelset.num_classes} classes) on {predictor.device}; "
              f"{len(images)} image(s) -> {args.out}", file=sys.stderr)
    bar = ProgressBar(len(images), enabled=not args.quiet and shard.is_main)
    failed = len(problems) if shard.is_main else 0
    written = 0
    writes: deque = deque()

    def finish_oldest() -> None:
        nonlocal written, failed
        target, fut = writes.popleft()
        try:
            fut.result()
            written += 1
        except OSError as e:
            failed += 1
            print(f"segstudio predict: cannot write {target}: {e.strerror or e}", file=sys.stderr)

    # PNG encoding runs beside the model so that neither waits for the other; at most a few
    # label maps wait to be written, so memory does not grow with the number of images.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="segstudio-png") as pool:
        confidence = getattr(args, "confidence", False)
        for path, labels, error in predictor.predict_paths(images, batch_size=args.batch_size, confidence=confidence,
                                                           progress=lambda i, n: bar.update(i)):
            if error is not None:
                failed += 1
                print(("\n" if bar.tty and not args.quiet else "") + f"segstudio predict: skipped {error}",
                      file=sys.stderr)
                continue
            target = targets[path]
            writes.append((target, pool.submit(_write, target, labels, predictor.labelset)))
            while len(writes) > 4:
                finish_oldest()
        while writes:
            finish_oldest()
    written, failed = shard.combine(written, failed)
    if shard.is_main:
        print(f"wrote {written} label PNG(s) to {args.out}" + (f"; {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0
