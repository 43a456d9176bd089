"""Benchmark: annotation effort with and without segstudio's assisted tools, by a simulated annotator.

    .venv/bin/python benchmarks/bench_effort.py --images DIR --gt DIR --labels L [--model NAME] [--limit N]

A simulated annotator that sees the ground truth corrects each image until the
pixel accuracy (over pixels whose ground truth is not the ignore index) reaches
--target (95 %) or --cap actions. Costs (printed at the top): a click 1, a
polygon vertex 1, a brush stroke 1 plus 1 per 100 px of path, a box 2, a key 0
(choosing a class, Enter). Two annotators on the same images:
  baseline = brush, eraser and polygon only (labelme / CVAT without AI servers);
  toolset  = those plus everything segstudio offers: flood fill (F), superpixel
             brush (S, coarse and fine), magic wand (W), GrabCut box, and, when
             starting from the model's prediction, the model wand (M) and
             re-predict a region.
Two starts: the default model's prediction, and an empty (all-unlabelled)
mask. From an empty mask no model tool is used (the case of a label set no
model knows; otherwise pressing "predict" would turn it into the first start).

Policy (the same for both annotators; no tool is preferred by construction):
each step, the annotator looks at the wrong pixels, split into connected
components per ground-truth class, and takes the --components largest. For
each, every tool its kit has proposes the actions a careful human would make
to fix it, all painting that component's true class c:
  polygon   the outline of the wrong component, or of the whole true object
            (the connected ground-truth region of c around it), simplified by
            cv2.approxPolyDP at 1.5 to 32 px (ten steps: a tight outline to a rough
            few-vertex polygon); cost = its vertices; filled by
            segstudio's own polygon rasteriser.
  brush     round brushes 3, 7, 13, 25 and 49 px across, moved with a perfect
            hand: every disc that stays --hand-px (1) inside the true object and
            touches the wrong component (so it never paints a wrong pixel; a
            hand aims only that precisely, polygon vertices and clicks are taken
            as exact; "inside" = the Euclidean distance to the object's edge
            exceeds the disc's radius + hand px); cost = 1 per
            separate stroke + path / 100. The path: along a strip of centres at
            most 4 px wide, its length; otherwise around the outline of the
            centres (so that the disc's edge follows the object's edge) plus a
            zig-zag, one brush width apart, over what that leaves inside.
  eraser    paints "unlabelled", which never raises accuracy: never chosen.
  fill      a click at the component's innermost pixel: segstudio's flood fill
            of the connected same-label region there.
  superpixel a click on the best superpixel, or one stroke through all
            superpixels touching the component that gain from being c
            (path = one superpixel spacing per superpixel), at each level; and,
            over the whole image, one sweep through each connected group of
            superpixels that gain most from the same class (the stroke along an
            edge band that fixes several wrong patches at once).
  wand      a click at the component's innermost pixel with tolerance 3 to 45 (nine
            steps, as a human picks it from the live preview; changing the
            tolerance from the last one costs a click).
  protect   superpixel, wand and GrabCut actions also in the studio's "paint
            over unlabelled and X" mode (X: the label the component wrongly
            has), and the polygons and brush strokes above in that mode too
            (the brush's disc may then also cross pixels labelled neither X nor
            unlabelled: the studio leaves them as they are, so a careful hand
            need not keep out of them); switching that mode costs 2 clicks.
            The mode "paint over unlabelled and start class" serves every such
            action whose start has label X without a switch: a stroke or
            polygon (a hand starts it on an X pixel), a wand or model-wand
            click on an X pixel, a GrabCut box whose centre is on X; switching
            to it costs 2 clicks too, and the annotator picks it over a fixed X
            when both would do. An action without protection needs no switch
            out of a mode that leaves all the pixels it paints free (they are
            all unlabelled or X, or, in the start-class mode, of one class that
            is also under its start). The annotator starts with protection off
            (starting in the start-class mode measured worse: 7959 / 8059 / 8085
            from the prediction 22.4 / 53.5 / 36.0 against 16.4 / 40.8 / 31.3).
            The baseline has no protect mode (labelme and CVAT have none).
  model wand a click at the component's innermost pixel at each superpixel level
            with tolerance 0.05 to 0.7 (seven steps; a probability; changing it
            from the last one costs a click): segstudio's ModelWand selects the clicked
            superpixel and the connected superpixels whose mean probability of
            c (the model's softmax at its working scale) is >= the tolerance.
  grabcut   a box around the true object (2 px margin); segstudio's grabcut_box.
  similar   a click at the component's innermost pixel at each superpixel level with tolerance
            0.1 to 0.5 (a cosine distance; changing it costs a click): segstudio's
            SimilarRegion (the similar-region click, K) on the fcn8s-lite0 model's features;
            only with such a model (--no-similar leaves it out).
  re-predict a box around the component (16 px margin): the model's labels
            for the box (segstudio's predict_box: the crop with 64 px of context
            at the model's working scale) replace the box (possibly several
            classes).
Every action is scored by its exact effect on the current mask: pixels that
become right minus pixels that were right and become wrong. The annotator
applies the action with the highest score per unit of cost (ties: the cheaper)
and repeats. Actions with no positive score are never taken.

Prints per image and means; the last line is one JSON object with images,
target_pixel_accuracy, baseline_cost_mean, toolset_cost_mean, effort_ratio
(baseline / toolset, from the prediction), empty_baseline_cost_mean,
empty_toolset_cost_mean, empty_effort_ratio, end_to_end_ratio
(brush + polygon from an empty mask / the toolset from the prediction), toolset_reached, baseline_reached,
the share of toolset cost per tool, and, as a bound rather than an annotator,
oracle_cost_mean / oracle_effort_ratio: the clicks a perfect object tool would
need from the prediction if each click fixed one whole wrong component (the
largest first), and the baseline's cost over that.

--sequential K runs the learning loop instead (effort_loop.py): images in order, the
project model retrained every K images with the studio's own fine-tune; last line
JSON with loop_ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import effort_actions  # noqa: E402
from effort_actions import candidates  # noqa: E402
from effort_scene import COSTS, Scene, apply, error_components, gain  # noqa: E402
from segstudio.core.imageio import label_pngs, list_images, load_image, read_label_png  # noqa: E402
from segstudio.core.labels import resolve_labelset  # noqa: E402

BASELINE = ("polygon", "brush")
TOOLSET = ("polygon", "brush", "fill", "superpixel", "wand", "grabcut", "protect", "modelwand", "repredict",
           "similar")
#: Tools that need a model: not used from an empty mask (the similar-region click: an fcn8s-lite0 model).
MODEL_TOOLS = ("modelwand", "repredict", "similar")
EMPTY_TOOLSET = tuple(t for t in TOOLSET if t not in MODEL_TOOLS)
#: Choosing another "protect" mode in the studio's drop-down: open it, pick (two clicks).
PROTECT_SWITCH = 2
#: The drop-down's "paint over unlabelled and start class" mode.
PRESS = "press"


def runs_in(mode, a, state: np.ndarray, ignore: int) -> bool:
    """Whether action `a` does what it should in protect mode `mode` (None, a class, or PRESS), with no
    switch: its own mode, or a mode that leaves every pixel it paints free anyway."""
    if a.protect is not None:
        return mode == a.protect or (mode == PRESS and a.press_ok)
    if mode is None:
        return True
    h, w = a.mask.shape
    under = set(np.unique(state[a.y0:a.y0 + h, a.x0:a.x0 + w][a.mask]).tolist()) - {ignore}
    if mode != PRESS:
        return under <= {mode}
    start = None if a.press is None else int(state[a.press[1], a.press[0]])
    if not under:
        return start in (None, ignore)
    return len(under) == 1 and start in (None, *under)


def annotate(scene: Scene, start: np.ndarray, kit, target: float, cap: int, k: int, trace=None,
             mode=None) -> dict:
    """Correct `start` greedily (see the module docstring) until `target` accuracy or `cap` actions,
    starting in protect mode `mode`."""
    state = start.copy()
    correct = int(np.count_nonzero(scene.valid & (state == scene.gt)))
    cost, actions = 0.0, 0
    last: dict[str, float] = {}
    spent: Counter = Counter()
    while correct < target * scene.n_valid and actions < cap:
        comps = error_components(scene, state, k)
        best, best_key = None, None
        for a in candidates(scene, state, comps, kit, last):
            g = gain(scene, state, a)
            if g <= 0:
                continue
            runs = runs_in(mode, a, state, scene.ignore)
            a_cost = a.cost + (0 if runs else PROTECT_SWITCH)
            key = (g / max(a_cost, 1e-9), -a_cost)
            if best_key is None or key > best_key:
                best, best_key, best_gain, best_cost, best_runs = a, key, g, a_cost, runs
        if best is None:
            break
        apply(state, best)
        correct += best_gain
        cost += best_cost
        actions += 1
        spent[best.tool.split()[0]] += best_cost
        if trace is not None:
            trace.append((best.tool, round(float(best_cost), 2), best_gain, round(correct / scene.n_valid, 4)))
        if not best_runs:
            mode = PRESS if best.protect is not None and best.press_ok else best.protect
        if best.tool.split()[0] in ("wand", "modelwand", "similar"):
            last[best.tool.split()[0]] = float(best.tool.split()[1])
    acc = correct / max(1, scene.n_valid)
    return {"cost": cost, "actions": actions, "accuracy": acc, "reached": acc >= target, "spent": dict(spent),
            "state": state}


def one_click_per_component(scene: Scene, start: np.ndarray, target: float) -> int:
    """Clicks a perfect object tool would need from `start`: it fixes one whole wrong component (connected,
    one true class) per click, the largest first. Not an annotator: a bound on what click tools can reach."""
    wrong = scene.valid & (start != scene.gt)
    need = int(np.count_nonzero(wrong)) - int((1 - target) * scene.n_valid)
    areas = sorted((c.area for c in error_components(scene, start, 10 ** 9)), reverse=True)
    return int(np.searchsorted(np.cumsum(areas), max(need, 0)) + (need > 0)) if areas else 0


def load_pairs(images_dir: Path, gt_dir: Path, limit: int | None):
    gts = label_pngs(gt_dir)
    pairs = [(p, gts[p.stem]) for p in list_images(images_dir) if p.stem in gts]
    if not pairs:
        sys.exit(f"no image in {images_dir} has a label PNG of the same name in {gt_dir}")
    if limit and limit < len(pairs):
        step = len(pairs) / limit  # spread over the sequence, not the first N neighbouring frames
        pairs = [pairs[int(i * step)] for i in range(limit)]
    return pairs


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--labels", required=True, help="label set: voc, camvid or a label-set file")
    ap.add_argument("--model", default=None, help="model name or path (default: the default model)")
    ap.add_argument("--limit", type=int, default=None, help="use N images spread over the folder")
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--cap", type=int, default=400, help="most actions per image")
    ap.add_argument("--components", type=int, default=8, help="wrong components considered per step")
    ap.add_argument("--hand-px", type=int, default=effort_actions.HAND_PX,
                    help="brush placement precision in px (0 = a perfect hand)")
    ap.add_argument("--no-similar", action="store_true", help="leave the similar-region click out of the toolset")
    ap.add_argument("--sequential", type=int, default=0, metavar="K",
                    help="learning-loop mode (effort_loop.py): the first --limit images in order, the project "
                         "model retrained every K images")
    ap.add_argument("--loop-minutes", type=float, default=1.0, help="time budget of each retrain (--sequential)")
    ap.add_argument("--loop-threads", type=int, default=2, help="torch threads of each retrain (--sequential)")
    ap.add_argument("--loop-base", choices=("imagenet", "model"), default="imagenet",
                    help="the loop's first version starts from the ImageNet encoder (no trained head) or "
                         "from --model (an fcn8s-lite0), as the studio does when one is selected")
    return ap.parse_args()


def similar_features(predictor, image):
    """The similar-region click's features when the model is an fcn8s-lite0, else None (no such tool)."""
    from segstudio.nets.errors import ModelError
    from segstudio.nets.features import pretrained_features

    try:
        return pretrained_features(predictor, image)
    except ModelError:
        return None


def mean(xs):
    return float(np.mean(xs)) if xs else float("nan")


def main() -> None:
    args = parse_args()
    effort_actions.HAND_PX = args.hand_px  # how precisely the annotator's hand places a brush
    labelset = resolve_labelset(args.labels)
    from segstudio.nets.predictor import Predictor
    from segstudio.nets.uncertainty import working_probabilities

    from segstudio.nets.checkpoint import DEFAULT_MODEL_NAME

    model = args.model or DEFAULT_MODEL_NAME
    predictor = None if model == "none" else Predictor.from_checkpoint(model, device="cpu")
    if args.sequential:
        from effort_loop import run_sequential

        args.model_path = None if predictor is None else str(predictor.source)
        print(f"learning loop: retrain every {args.sequential} images, {args.loop_minutes:g} min each, "
              f"from {args.loop_base}; model {model}")
        run_sequential(args, labelset, predictor, annotate, (BASELINE, TOOLSET, EMPTY_TOOLSET))
        return
    print("costs: " + ", ".join(f"{k} {v}" for k, v in COSTS.items()))
    print(f"target pixel accuracy {args.target:.0%}, cap {args.cap} actions, hand precision {args.hand_px} px; "
          f"model {model}; "
          f"baseline = {'+'.join(BASELINE)}; toolset = {'+'.join(TOOLSET)}")
    rows, t0 = [], time.perf_counter()
    for img_path, gt_path in load_pairs(args.images, args.gt, args.limit):
        image = load_image(img_path)
        gt = read_label_png(gt_path, expected_size=(image.shape[1], image.shape[0]))
        scene = Scene(image, gt, labelset.ignore_index, predictor, working_probabilities(predictor, image))
        if not args.no_similar:
            scene.features = similar_features(predictor, image)
        pred = predictor.predict(image)
        empty = np.full(gt.shape, labelset.ignore_index, np.uint8)
        empty_scene = Scene(image, gt, labelset.ignore_index, None)
        empty_scene._sp, empty_scene._sp_obj, empty_scene._boxes = scene.superpixels(), scene._sp_obj, scene._boxes
        r = {"image": img_path.name,
             "start_accuracy": float(np.count_nonzero(scene.valid & (pred == gt)) / scene.n_valid),
             "baseline": annotate(scene, pred, BASELINE, args.target, args.cap, args.components),
             "toolset": annotate(scene, pred, TOOLSET, args.target, args.cap, args.components),
             "empty_baseline": annotate(empty_scene, empty, BASELINE, args.target, args.cap, args.components),
             "empty_toolset": annotate(empty_scene, empty, EMPTY_TOOLSET, args.target, args.cap, args.components),
             "oracle": one_click_per_component(scene, pred, args.target)}
        rows.append(r)
        print(f"{r['image']}: prediction {r['start_accuracy']:.1%} | from prediction baseline "
              f"{r['baseline']['cost']:.1f} toolset {r['toolset']['cost']:.1f} | from empty baseline "
              f"{r['empty_baseline']['cost']:.1f} toolset {r['empty_toolset']['cost']:.1f} | toolset spent "
              f"{ {k: round(v, 1) for k, v in r['toolset']['spent'].items()} } / empty "
              f"{ {k: round(v, 1) for k, v in r['empty_toolset']['spent'].items()} } | one-click-per-component bound "
              f"{r['oracle']}", flush=True)
    summary(rows, args, time.perf_counter() - t0)


def summary(rows, args, seconds) -> None:
    def m(key, field="cost"):
        return mean([r[key][field] for r in rows])

    spent: Counter = Counter()
    for r in rows:
        spent.update(r["toolset"]["spent"])
    total = sum(spent.values()) or 1.0
    out = {
        "images": len(rows), "target_pixel_accuracy": args.target,
        "start_pixel_accuracy_mean": mean([r["start_accuracy"] for r in rows]),
        "baseline_cost_mean": m("baseline"), "toolset_cost_mean": m("toolset"),
        "effort_ratio": m("baseline") / max(m("toolset"), 1e-9),
        "empty_baseline_cost_mean": m("empty_baseline"), "empty_toolset_cost_mean": m("empty_toolset"),
        "empty_effort_ratio": m("empty_baseline") / max(m("empty_toolset"), 1e-9),
        # what a model that predicts the classes saves against brush and polygon from nothing
        "end_to_end_ratio": m("empty_baseline") / max(m("toolset"), 1e-9),
        "oracle_cost_mean": mean([r["oracle"] for r in rows]),
        "oracle_effort_ratio": m("baseline") / max(mean([r["oracle"] for r in rows]), 1e-9),
        "toolset_reached": mean([float(r["toolset"]["reached"] and r["empty_toolset"]["reached"]) for r in rows]),
        "baseline_reached": mean([float(r["baseline"]["reached"] and r["empty_baseline"]["reached"]) for r in rows]),
        "toolset_cost_share": {k: round(v / total, 3) for k, v in spent.most_common()},
        "seconds": round(seconds, 1),
    }
    print(f"means over {len(rows)} images: from prediction baseline {out['baseline_cost_mean']:.1f} vs toolset "
          f"{out['toolset_cost_mean']:.1f} = {out['effort_ratio']:.2f}x; from empty baseline "
          f"{out['empty_baseline_cost_mean']:.1f} vs toolset {out['empty_toolset_cost_mean']:.1f} = "
          f"{out['empty_effort_ratio']:.2f}x; end to end (empty brush+polygon / toolset from the prediction) "
          f"{out['end_to_end_ratio']:.2f}x; toolset reached {out['toolset_reached']:.0%}; a perfect "
          f"one-click-per-component tool would need {out['oracle_cost_mean']:.1f} ({out['oracle_effort_ratio']:.2f}x)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
