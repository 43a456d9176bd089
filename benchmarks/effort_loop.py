"""bench_effort.py --sequential K: the simulated annotator with the studio's learning loop.

Images are taken in order (the first --limit). The loop starts with no trained
head: until the first retrain the annotator works from an empty mask with the
image-only toolset. Every K images the project model is retrained on the
annotator's finished masks so far with the studio's own code
(`segstudio.nets.learning_loop.finetune`, the function "Learn As I Annotate"
runs: first from the ImageNet encoder, then from the previous version; with
--loop-base model, from --model as the studio does when an fcn8s-lite0 is
selected), and the following images start from its prediction with the whole
toolset. Printed per image and cumulatively: the loop's cost against brush +
polygon from an empty mask and against the toolset without the loop (from an
empty mask, and from --model's prediction when a model is given). The last
line is one JSON object with `loop_ratio` (brush + polygon from empty / the
loop, cumulative) and `loop_vs_toolset_ratio`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def run_sequential(args, labelset, predictor, annotate, kits) -> dict:
    from effort_scene import Scene

    from segstudio.core.imageio import load_image, read_label_png, write_label_png
    from segstudio.nets.learning_loop import LoopSettings, finetune
    from segstudio.nets.predictor import Predictor
    from segstudio.nets.uncertainty import working_probabilities

    baseline, toolset, empty_toolset = kits
    pairs = in_order(args.images, args.gt, args.limit)
    work = Path(tempfile.mkdtemp(prefix="segstudio-loop-bench-"))
    (work / "images").mkdir()
    (work / "masks").mkdir()
    settings = LoopSettings(minutes=args.loop_minutes, threads=args.loop_threads, nice=0)
    selected = Path(args.model_path) if args.loop_base == "model" and args.model_path else None
    loop_predictor = predictor if selected is not None else None
    rows, stems, versions, t0 = [], [], [], time.perf_counter()
    run = lambda sc, start, kit: annotate(sc, start, kit, args.target, args.cap, args.components)  # noqa: E731
    try:
        for i, (img_path, gt_path) in enumerate(pairs):
            image = load_image(img_path)
            gt = read_label_png(gt_path, expected_size=(image.shape[1], image.shape[0]))
            empty = np.full(gt.shape, labelset.ignore_index, np.uint8)
            empty_scene = Scene(image, gt, labelset.ignore_index, None)
            r = {"image": img_path.name, "model": versions[-1] if versions else "none",
                 "empty_baseline": run(empty_scene, empty, baseline),
                 "empty_toolset": run(empty_scene, empty, empty_toolset)}
            if predictor is not None:
                r["model_toolset"] = run(_scene(Scene, image, gt, labelset, predictor, empty_scene,
                                                working_probabilities), predictor.predict(image), toolset)
            if loop_predictor is None:
                r["loop"] = r["empty_toolset"]
            elif loop_predictor is predictor and "model_toolset" in r:
                r["loop"] = r["model_toolset"]
            else:
                r["loop"] = run(_scene(Scene, image, gt, labelset, loop_predictor, empty_scene, working_probabilities),
                                loop_predictor.predict(image), toolset)
            rows.append(r)
            _print_row(r, rows)
            (work / "images" / img_path.name).symlink_to(Path(img_path).resolve())
            write_label_png(work / "masks" / f"{img_path.stem}.png", r["loop"]["state"], labelset)
            stems.append(img_path.stem)
            if (i + 1) % args.sequential == 0 and i + 1 < len(pairs):
                t = time.perf_counter()
                result = finetune(work / "images", work / "masks", stems, labelset, selected=selected,
                                  settings=settings, folder=work / "models")
                loop_predictor = Predictor.from_checkpoint(result.path, device="cpu", backend="torch")
                versions.append(f"v{result.version}")
                print(f"retrained: project-v{result.version} on {len(stems)} images from {result.base} "
                      f"({time.perf_counter() - t:.0f} s)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _summary(rows, args, time.perf_counter() - t0)


def in_order(images_dir: Path, gt_dir: Path, limit: int | None):
    from segstudio.core.imageio import label_pngs, list_images

    gts = label_pngs(gt_dir)
    pairs = [(p, gts[p.stem]) for p in list_images(images_dir) if p.stem in gts]
    return pairs[:limit] if limit else pairs


def _scene(Scene, image, gt, labelset, predictor, empty_scene, working_probabilities):
    from bench_effort import similar_features

    sc = Scene(image, gt, labelset.ignore_index, predictor, working_probabilities(predictor, image))
    sc.features = similar_features(predictor, image)
    sc._sp, sc._sp_obj, sc._boxes = empty_scene.superpixels(), empty_scene._sp_obj, empty_scene._boxes
    return sc


def _cum(rows, key) -> float:
    return float(sum(r[key]["cost"] for r in rows if key in r))


def _print_row(r, rows) -> None:
    model = f" model toolset {r['model_toolset']['cost']:.1f}" if "model_toolset" in r else ""
    print(f"{r['image']} [{r['model']}]: loop {r['loop']['cost']:.1f} | brush+polygon from empty "
          f"{r['empty_baseline']['cost']:.1f} | toolset from empty {r['empty_toolset']['cost']:.1f}{model} | "
          f"cumulative loop {_cum(rows, 'loop'):.1f} vs brush+polygon {_cum(rows, 'empty_baseline'):.1f}", flush=True)


def _summary(rows, args, seconds) -> dict:
    loop, base, tool = _cum(rows, "loop"), _cum(rows, "empty_baseline"), _cum(rows, "empty_toolset")
    out = {"images": len(rows), "retrain_every": args.sequential, "loop_minutes": args.loop_minutes,
           "loop_base": args.loop_base, "target_pixel_accuracy": args.target,
           "loop_cost": loop, "empty_baseline_cost": base, "empty_toolset_cost": tool,
           "loop_ratio": base / max(loop, 1e-9), "loop_vs_empty_toolset_ratio": tool / max(loop, 1e-9),
           "loop_reached": float(np.mean([r["loop"]["reached"] for r in rows])) if rows else float("nan"),
           "per_image_loop_cost": [round(r["loop"]["cost"], 1) for r in rows],
           "per_image_baseline_cost": [round(r["empty_baseline"]["cost"], 1) for r in rows],
           "seconds": round(seconds, 1)}
    if rows and "model_toolset" in rows[0]:
        m = _cum(rows, "model_toolset")
        out.update(model_toolset_cost=m, loop_vs_model_toolset_ratio=m / max(loop, 1e-9))
    print(f"cumulative over {len(rows)} images: loop {loop:.1f}, brush+polygon from empty {base:.1f} "
          f"(loop_ratio {out['loop_ratio']:.2f}), toolset from empty {tool:.1f}"
          + (f", toolset from the model {out['model_toolset_cost']:.1f}" if "model_toolset_cost" in out else ""))
    print(json.dumps(out))
    return out
