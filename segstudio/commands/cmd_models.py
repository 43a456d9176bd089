"""`segstudio models`: list the models found (shipped with segstudio and the user's own) with their cards."""

from __future__ import annotations

import json
import sys


def add_arguments(p) -> None:
    p.add_argument("name", nargs="?", help="show this model's full card (a name or a checkpoint path)")
    p.add_argument("--json", action="store_true", help="print the list (or the card) as JSON")


def _metric(card: dict) -> str:
    m = card.get("metrics") or {}
    for key in ("mean_iou", "val_mean_iou", "miou"):
        if isinstance(m.get(key), (int, float)):
            return f"mIoU {100 * m[key]:.1f}%"
    return ""


def run(args) -> int:
    from segstudio import paths
    from segstudio.nets.checkpoint import find_models, read_card, resolve_model, unreadable_models

    if args.name:
        path = resolve_model(args.name)
        card = read_card(path)
        if args.json:
            print(json.dumps({"name": path.stem, "path": str(path), "card": card}, indent=2))
        else:
            print(f"{path.stem}  ({path})")
            print(json.dumps(card, indent=2))
        return 0
    models = find_models()
    for path, problem in unreadable_models():
        print(f"segstudio models: not a usable model: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps([{"name": m.name, "path": str(m.path), "source": m.source, "card": m.card}
                          for m in models], indent=2))
        return 0
    if not models:
        print(f"no models found (looked in {paths.shipped_models_dir()} and {paths.user_models_dir()})")
        return 0
    rows = []
    for m in models:
        c = m.card
        labels = m.labelset
        rows.append((m.name, m.source, f"{c['arch']} x{c['width']:g}",
                     f"{labels.num_classes} classes ({labels.name or 'custom'})", _metric(c), str(m.path)))
    heads = ("name", "source", "arch", "labels", "score", "path")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    for row in (heads, *rows):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    return 0
