"""`segstudio export-model`: write a model (name or checkpoint path) as an ONNX file.

The graph maps the normalised image (N,3,H,W, any batch and size) to per-class
logits; the model card, with its label set and input normalisation, is
embedded as ONNX metadata under `segstudio.card`. Unless --no-check is given,
the file is then run with onnxruntime on the bundled sample images and its
labels compared with torch's: the export is refused below 99.99 % agreement.
An existing file is replaced only if segstudio exported it.
"""

from __future__ import annotations

import sys
from pathlib import Path

MIN_AGREEMENT = 0.9999


def add_arguments(p) -> None:
    p.add_argument("model", metavar="NAME|PATH", help="model name (see 'segstudio models') or checkpoint path")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="export format (default onnx)")
    p.add_argument("--out", required=True, type=Path, help="file to write, e.g. model.onnx")
    p.add_argument("--no-check", action="store_true",
                   help="skip running the export with onnxruntime against torch on the bundled samples")


def _check(model, card, out: Path) -> str:
    from segstudio import paths
    from segstudio.core.errors import SegstudioError
    from segstudio.core.imageio import list_images, load_image
    from segstudio.nets.onnx_export import card_input, label_agreement, ort_session

    samples = list_images(paths.samples_dir()) if paths.samples_dir().is_dir() else []
    if not samples:
        return "no bundled samples to check against"
    session = ort_session(out)
    worst = min(label_agreement(model, session, card_input(load_image(p), card)) for p in samples)
    if worst < MIN_AGREEMENT:
        out.unlink()
        raise SegstudioError(f"{out}: onnxruntime's labels agree with torch's on only {100 * worst:.3f} % of "
                             f"the pixels of a bundled sample (need {100 * MIN_AGREEMENT:.2f} %); file removed")
    return f"onnxruntime agrees with torch on >= {100 * worst:.3f} % of pixels of {len(samples)} sample(s)"


def run(args) -> int:
    from segstudio.nets.checkpoint import load_checkpoint
    from segstudio.nets.onnx_export import refuse_foreign_file, write_onnx

    refuse_foreign_file(args.out)
    model, card = load_checkpoint(args.model, device="cpu")
    print(f"exporting {card['name']} ({card['arch']}, width {card['width']:g}, {card['num_classes']} classes) "
          f"to {args.out} ...", file=sys.stderr)
    out = write_onnx(model, card, args.out)
    note = "not checked (--no-check)" if args.no_check else _check(model, card, out)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB); {note}", file=sys.stderr)
    return 0
