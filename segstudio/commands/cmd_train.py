"""`segstudio train`: train or fine-tune a network on image + mask folders.

    segstudio train --arch segnet-basic --data CAMVID_ROOT --labels camvid --out runs/x
    segstudio train --config recipes/segnet-basic-camvid.toml --data CAMVID_ROOT --out runs/x
    segstudio train --init segnet-basic-camvid --images imgs/ --masks masks/ --val-fraction 0.2 --out runs/y
    segstudio train --resume runs/x/segnet-basic-camvid-last.safetensors --epochs 200
    torchrun --nproc_per_node=4 -m segstudio train ...      (DistributedDataParallel)

Settings come from, lowest priority first: built-in defaults, the --config
recipe, the resumed checkpoint's recipe, then the options given here.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import signal
import sys
import threading
import time

from segstudio.core.errors import SegstudioError


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes/no, got {text!r}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = __doc__.split("\n\n", 1)[1]
    _model_and_data_arguments(p)
    _augmentation_and_optimisation_arguments(p)
    _run_arguments(p)


S = argparse.SUPPRESS  # options not given stay out of the namespace: recipe values win over defaults


def _model_and_data_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--arch", default=S, help="fcn8s-lite0 (the default without --init), fcn8s, fcn16s, fcn32s, "
                   "segnet or segnet-basic")
    g.add_argument("--pretrained", choices=("imagenet", "none"), default=S,
                   help="start fcn8s-lite0's encoder from ImageNet (default) or from random weights")
    g.add_argument("--encoder-lr-mult", type=float, default=S,
                   help="learning-rate factor of the pretrained encoder (fcn8s-lite0 default 0.1)")
    g.add_argument("--width", type=float, default=S, help="channel width multiplier (default 1.0)")
    g.add_argument("--init", default=S, help="fine-tune from this checkpoint (model name or path; "
                   "a torchvision VGG16 .pth works for FCN / SegNet); layers that do not fit are re-initialised")
    g.add_argument("--name", default=S, help="model name = checkpoint file stem (default ARCH-LABELSET)")
    g = p.add_argument_group("data")
    g.add_argument("--data", default=S, help="data root in Pascal VOC (JPEGImages/, SegmentationClass/, "
                   "ImageSets/Segmentation/) or CamVid (train/, trainannot/, val/, valannot/) layout")
    g.add_argument("--images", default=S, help="training image folder")
    g.add_argument("--masks", default=S, help="label PNG folder (file stems match the images)")
    g.add_argument("--train-list", default=S, help="file of training stems (one per line)")
    g.add_argument("--val-list", default=S, help="file of validation stems")
    g.add_argument("--val-images", default=S, help="validation image folder (default: --images)")
    g.add_argument("--val-masks", default=S, help="validation mask folder (default: --masks)")
    g.add_argument("--val-fraction", type=float, default=S, help="hold out this share of the images for validation")
    g.add_argument("--val-sequences", default=S,
                   help="validate on these sequences' training frames, e.g. 0006R0 (CamVid stems start with the "
                        "sequence name); the data root's own val split is still evaluated and reported")
    g.add_argument("--labels", default=S, help="label set: voc, camvid or a file (default: the --init model's)")


def _augmentation_and_optimisation_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("resolution and augmentation")
    g.add_argument("--scale", type=float, default=S, help="resize every image by this factor first (e.g. 0.5)")
    g.add_argument("--size", default=S, help="or resize every image to WxH first (e.g. 240x180)")
    g.add_argument("--short-side", type=int, default=S,
                   help="or resize every image to this short side first (fcn8s-lite0 default 360)")
    g.add_argument("--crop", default=S, help="random crop WxH for training")
    g.add_argument("--aug-scale", default=S, help="random rescale range MIN,MAX (e.g. 0.75,1.25)")
    g.add_argument("--hflip", type=_bool, nargs="?", const=True, default=S, help="random horizontal flips")
    g.add_argument("--color-jitter", type=float, default=S, help="random brightness/contrast/saturation, e.g. 0.2")
    g.add_argument("--gamma", type=float, default=S, help="random gamma in [exp(-G), exp(G)], e.g. 0.3")
    g.add_argument("--blur", type=float, default=S, help="probability of a slight Gaussian blur, e.g. 0.3")
    g.add_argument("--noise", type=float, default=S, help="max std of Gaussian noise in 0..255 levels, e.g. 6")
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=S, help="epochs (default 10)")
    g.add_argument("--batch-size", type=int, default=S, help="images per step and process (default 4)")
    g.add_argument("--optimizer", choices=("sgd", "adamw"), default=S, help="default sgd (momentum 0.9)")
    g.add_argument("--lr", type=float, default=S, help="base learning rate (default 0.01)")
    g.add_argument("--momentum", type=float, default=S)
    g.add_argument("--weight-decay", type=float, default=S, help="default 5e-4")
    g.add_argument("--lr-schedule", choices=("poly", "step", "constant"), default=S, help="default poly (power 0.9)")
    g.add_argument("--step-size", type=int, default=S, help="epochs between LR drops (step schedule)")
    g.add_argument("--step-gamma", type=float, default=S)
    g.add_argument("--class-weights", default=S,
                   help="none, median-freq, sqrt-median-freq (tempered), or comma-separated weights")
    g.add_argument("--class-weight-cap", type=float, default=S, help="clip class weights to at most this")
    g.add_argument("--loss-reduction", choices=("valid", "mean"), default=S,
                   help="valid: weighted sum / valid pixels (Caffe, default); mean: PyTorch's weighted mean")


def _run_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--config", help="recipe file (.toml or .json; a run's train-config.json reruns it)")
    g.add_argument("--out", default=S, help="output folder for checkpoints and logs")
    g.add_argument("--resume", help="continue a run from its -last checkpoint (or its output folder)")
    g.add_argument("--val-every", type=int, default=S, help="validate every N epochs (default 1)")
    g.add_argument("--select-by", choices=("mean_iou", "pixel_accuracy", "mean_accuracy"), default=S,
                   help="validation figure that picks the best checkpoint (default mean_iou)")
    g.add_argument("--bn-recompute", type=_bool, nargs="?", const=True, default=S,
                   help="recompute BN statistics on the training set before the final evaluation (default yes)")
    g.add_argument("--max-minutes", type=float, default=S, help="time budget; the run ends cleanly within it")
    g.add_argument("--device", default=S, help="auto (default), cpu, cuda, cuda:1")
    g.add_argument("--amp", type=_bool, nargs="?", const=True, default=S, help="bf16 autocast on CUDA (default yes)")
    g.add_argument("--channels-last", type=_bool, nargs="?", const=True, default=S,
                   help="NHWC memory layout (default: yes on the CPU, where it measured faster)")
    g.add_argument("--workers", type=int, default=S, help="data loader workers (default 0 when cached, else <= 2)")
    g.add_argument("--threads", type=int, default=S, help="CPU threads for torch")
    g.add_argument("--cache", type=_bool, nargs="?", const=True, default=S,
                   help="keep decoded images in memory (default: when under 4 GB)")
    g.add_argument("--seed", type=int, default=S)
    g.add_argument("--quiet", action="store_true", help="no progress bar, only the per-epoch lines")


OPTION_KEYS = ("arch pretrained encoder_lr_mult short_side width init name data images masks train_list val_list val_images val_masks val_fraction "
               "val_sequences labels scale size crop aug_scale hflip color_jitter gamma blur noise epochs "
               "batch_size optimizer lr momentum weight_decay lr_schedule step_size step_gamma class_weights "
               "class_weight_cap loss_reduction out val_every select_by bn_recompute max_minutes device amp "
               "channels_last workers threads cache seed").split()
# Settings a resumed run may change; the others would make it a different run.
RESUMABLE = {"epochs", "max_minutes", "device", "amp", "channels_last", "workers", "threads", "cache", "out", "val_every"}


def _class_weights(text: str):
    if text in ("none", "median-freq", "sqrt-median-freq"):
        return text
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise SegstudioError(f"--class-weights must be none, median-freq, sqrt-median-freq or numbers "
                             f"separated by commas, "
                             f"got {text!r}") from None


def build_config(args: argparse.Namespace):
    """The TrainConfig of the command line (recipe, resumed run and options merged)."""
    from pathlib import Path

    from segstudio.nets import DEFAULT_ARCH
    from segstudio.nets.train_config import TrainConfig, arch_defaults, load_recipe

    recipe = load_recipe(args.config) if args.config else {}
    given = {k: getattr(args, k) for k in OPTION_KEYS if hasattr(args, k)}
    # Without --arch / --init (or a recipe naming them) a new run trains the default architecture;
    # a pretrained-encoder architecture starts from its own recipe defaults.
    arch = given.get("arch") or recipe.get("arch")
    if not arch and not (given.get("init") or recipe.get("init") or args.resume):
        arch = given["arch"] = DEFAULT_ARCH
    cfg = TrainConfig().updated(arch_defaults(arch), f"{arch} defaults")
    if args.config:
        cfg = cfg.updated(recipe, str(args.config))
    if "class_weights" in given:
        given["class_weights"] = _class_weights(given["class_weights"])
    for key in ("data", "images", "masks", "train_list", "val_list", "val_images", "val_masks", "out"):
        if key in given:  # the written config must rerun from anywhere
            given[key] = str(Path(given[key]).resolve())
    sized = [k for k in ("scale", "size") if k in given or k in recipe]
    if sized and "short_side" not in given and "short_side" not in recipe:
        cfg = dataclasses.replace(cfg, short_side=None)  # an explicit --scale / --size wins over the default
    if args.resume:
        from segstudio.nets.train_checkpoints import resume_recipe
        from segstudio.nets.trainer import Trainer

        resume = Trainer(TrainConfig(), resume=args.resume).resume_path
        recipe = resume_recipe(resume)
        if not recipe:
            raise SegstudioError(f"{resume}: the model card holds no training recipe to resume")
        cfg = TrainConfig.from_dict(recipe, f"{resume} (recipe)")
        changed = sorted(k for k in given if k not in RESUMABLE and given[k] != getattr(cfg, k))
        if changed:
            raise SegstudioError(f"--resume continues the same run; these options differ from it: "
                                 f"{', '.join('--' + k.replace('_', '-') for k in changed)} "
                                 "(start a new run with --init to fine-tune instead)")
        if "out" not in given:
            given["out"] = str(resume.parent)
    return cfg.updated(given, "command line")


def _fmt_time(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "?"
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _pct(v) -> str:
    return "  n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:5.1f}"


class ConsoleProgress:
    """A one-line progress bar on a terminal (stderr) and one line per epoch on stdout."""

    def __init__(self, quiet: bool = False):
        self.bar = sys.stderr.isatty() and not quiet
        self.last_draw = 0.0

    def __call__(self, p) -> None:
        if p.kind == "status":
            self._clear()
            print(p.message, flush=True)
        elif p.kind == "step" and self.bar:
            now = time.monotonic()
            if now - self.last_draw < 0.25 and p.step != p.steps:
                return
            self.last_draw = now
            n = 24
            done = int(n * p.step / max(1, p.steps))
            sys.stderr.write(f"\repoch {p.epoch}/{p.epochs} [{'#' * done}{'.' * (n - done)}] "
                             f"{p.step}/{p.steps} loss {p.loss:.4f} lr {p.lr:.2e} "
                             f"{p.images_per_s:.1f} img/s ETA {_fmt_time(p.eta_s)} ")
            sys.stderr.flush()
        elif p.kind == "epoch":
            self._clear()
            line = (f"epoch {p.epoch:3d}/{p.epochs} loss {p.loss:.4f} lr {p.lr:.2e} "
                    f"{p.images_per_s:.1f} img/s elapsed {_fmt_time(p.elapsed_s)}")
            if p.val:
                line += (f" | val pixel acc {_pct(p.val['pixel_accuracy'])} mean acc {_pct(p.val['mean_accuracy'])} "
                         f"mIoU {_pct(p.val['mean_iou'])}")
            print(line, flush=True)
        elif p.kind == "checkpoint" and p.message == "best":
            self._clear()
            print(f"  saved best so far: {p.path}", flush=True)
        elif p.kind == "done":
            self._clear()

    def _clear(self) -> None:
        if self.bar:
            sys.stderr.write("\r" + " " * 110 + "\r")
            sys.stderr.flush()


@contextlib.contextmanager
def _stop_on_signals(cancel: threading.Event):
    """First Ctrl+C / SIGTERM: finish the current step, save the last checkpoint, exit.
    A second Ctrl+C interrupts at once."""
    def handler(signum, frame):
        if cancel.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        cancel.set()
        print(f"\n{signal.Signals(signum).name}: stopping after this step and saving a checkpoint "
              "(Ctrl+C again to abort)", file=sys.stderr, flush=True)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# --- output folder guard (issue 14: no write over the data or over files this run did not write) -----------

def _run_outputs(cfg, resume) -> list[str]:
    """File names the run writes into its output folder (NAME files only when the name can be worked out)."""
    from segstudio.nets import train_setup
    from segstudio.nets.train_checkpoints import STATE_SUFFIX

    try:
        if resume is not None:
            name = resume.stem.removesuffix("-last")
        else:
            init = train_setup.init_card(cfg)
            name = cfg.name or f"{cfg.arch or (init or {}).get('arch', 'model')}-" \
                               f"{train_setup.load_labelset(cfg, init).name or 'custom'}"
    except SegstudioError:
        name = None  # the trainer reports the bad setting itself
    stems = [name, f"{name}-last"] if name else []
    return ["train-config.json", "train-log.jsonl",
            *(stem + suffix for stem in stems for suffix in (".safetensors", ".json", STATE_SUFFIX))]


def _data_folders(cfg) -> list:
    """The run's image and mask folders (a data root's layout folders included)."""
    from pathlib import Path

    folders = [p for p in (cfg.images, cfg.masks, cfg.val_images, cfg.val_masks, cfg.data) if p]
    if cfg.data:
        folders += [Path(cfg.data) / d for d in ("JPEGImages", "SegmentationClass", "ImageSets", "train",
                                                 "trainannot", "val", "valannot", "test", "testannot")]
    return folders


def check_output_folder(args: argparse.Namespace, cfg) -> None:
    """Refuse an --out that is or holds the training images/masks (symlinks resolved), or that already holds
    files named like this run's outputs which the run did not write; a resumed run may go on in its own folder."""
    import os

    from segstudio.core.output_guard import OutputConflictError, real
    from segstudio.nets.train_config import TrainConfig
    from segstudio.nets.trainer import Trainer

    if not cfg.out or os.environ.get("RANK", "0") != "0":
        return  # no --out: the trainer asks for one; under torchrun rank 0 checks and the others stop with it
    out_given, out = getattr(args, "out", None) or cfg.out, real(cfg.out)
    for p in _data_folders(cfg):
        if real(p) == out or out in real(p).parents:
            raise OutputConflictError(f"training output folder {out_given} is or holds the training data {p}; "
                                      "checkpoints and logs would mix with it; choose another --out")
    resume = Trainer(TrainConfig(), resume=args.resume).resume_path if args.resume else None
    if not out.is_dir() or (resume is not None and real(resume).parent == out):
        return
    clash = [n for n in _run_outputs(cfg, resume) if os.path.lexists(out / n)]
    if clash:
        raise OutputConflictError(
            f"training output folder {out_given} already holds {', '.join(clash)}, which this run did not "
            f"write; a new run would replace {'it' if len(clash) == 1 else 'them'}. Choose another --out or "
            f"--name, or continue that run with --resume {out_given}")


def run(args: argparse.Namespace) -> int:
    from segstudio.nets.trainer import Trainer

    cfg = build_config(args)
    check_output_folder(args, cfg)
    progress = ConsoleProgress(args.quiet)
    cancel = threading.Event()
    trainer = Trainer(cfg, progress=progress, cancel=cancel, resume=args.resume)
    with _stop_on_signals(cancel):
        result = trainer.run()
    if trainer.ctx.is_main:
        v = result.best_metrics or result.last_metrics
        print(f"{result.stopped} after {result.epochs_done} epoch(s) in {_fmt_time(result.wall_time_s)}")
        if v:
            print(f"best: {result.best_path} (epoch {trainer.best_epoch}) val pixel acc {_pct(v['pixel_accuracy'])} "
                  f"mean acc {_pct(v['mean_accuracy'])} mIoU {_pct(v['mean_iou'])}")
        print(f"last: {result.last_path}")
    return 130 if result.stopped == "cancelled" else 0
