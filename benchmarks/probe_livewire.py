"""Probe: do CamVid's label edges follow image edges? Straight polygons against live-wire ones.

    .venv/bin/python benchmarks/probe_livewire.py --images DIR --gt DIR [--limit N] [--components K]

For the K largest wrong components of the default model's prediction on N frames
(the components benchmarks/bench_effort.py's annotator looks at first), the outline
of the wrong component and of the whole true object is simplified by
cv2.approxPolyDP (1.5 to 20 px) into anchor vertices. Each polygon is filled twice:
straight between the anchors (segstudio's polygon tool) and along OpenCV's
intelligent scissors (`cv2.segmentation.IntelligentScissorsMB`, the live wire CVAT
offers), which follows the strongest image edges between consecutive anchors. For
each component the best pixels fixed per vertex of each kind are compared. If the
labels' edges followed the image's, the live wire would fix more per vertex; the
ratio live / straight says how far they do. About 2 min per frame (the scissors
build a cost map per anchor). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_effort import load_pairs  # noqa: E402
from effort_scene import Action, Scene, error_components, gain, true_object  # noqa: E402
from segstudio.core import labelmap as lm  # noqa: E402
from segstudio.core.imageio import load_image, read_label_png  # noqa: E402
from segstudio.core.labels import preset  # noqa: E402

EPS = (1.5, 3.0, 6.0, 12.0, 20.0)


def live_wire(tool, anchors: np.ndarray) -> list[tuple[float, float]]:
    """The closed path through `anchors` along the scissors' cheapest paths between neighbours."""
    pts: list[tuple[float, float]] = []
    for k in range(len(anchors)):
        a = tuple(int(v) for v in anchors[k])
        b = tuple(int(v) for v in anchors[(k + 1) % len(anchors)])
        tool.buildMap(a)
        pts.extend((float(x), float(y)) for x, y in tool.getContour(b).reshape(-1, 2)[::-1])
    return pts


def fixed(scene: Scene, state: np.ndarray, pts, cls: int) -> int:
    pm = lm.polygon_mask(state.shape, pts)
    if pm is None:
        return 0
    (x0, y0, _, _), m = pm
    return gain(scene, state, Action("polygon", 0, x0, y0, m, cls))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=2)
    ap.add_argument("--components", type=int, default=10)
    args = ap.parse_args()
    from segstudio.nets.checkpoint import DEFAULT_MODEL_NAME
    from segstudio.nets.predictor import Predictor

    predictor = Predictor.from_checkpoint(DEFAULT_MODEL_NAME, device="cpu")
    ignore = preset("camvid").ignore_index
    rows = []
    for img_path, gt_path in load_pairs(args.images, args.gt, args.limit):
        image = load_image(img_path)
        gt = read_label_png(gt_path, expected_size=(image.shape[1], image.shape[0]))
        pred = predictor.predict(image)
        scene = Scene(image, gt, ignore)
        tool = cv2.segmentation.IntelligentScissorsMB()
        tool.setEdgeFeatureCannyParameters(32, 100)
        tool.setGradientMagnitudeMaxLimit(200)
        tool.applyImage(image)
        for comp in error_components(scene, pred, args.components):
            _, ox, oy, om = true_object(scene, comp)
            straight = live = 0.0
            for x0, y0, mask in ((comp.x0, comp.y0, comp.mask), (ox, oy, om)):
                cs, _ = cv2.findContours(mask.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                contour = max(cs, key=cv2.contourArea)
                for eps in EPS:
                    anchors = cv2.approxPolyDP(contour, eps, True).reshape(-1, 2) + (x0, y0)
                    if len(anchors) < 3:
                        continue
                    n = len(anchors)
                    straight = max(straight, fixed(scene, pred, [tuple(map(float, p)) for p in anchors], comp.cls) / n)
                    live = max(live, fixed(scene, pred, live_wire(tool, anchors), comp.cls) / n)
            rows.append((img_path.name, comp.area, straight, live))
            print(f"{img_path.name} wrong component of {comp.area} px: best pixels fixed per vertex "
                  f"straight {straight:.0f}, live wire {live:.0f}", flush=True)
    s = float(np.mean([r[2] for r in rows]))
    lw = float(np.mean([r[3] for r in rows]))
    better = float(np.mean([r[3] > r[2] for r in rows]))
    print(f"mean over {len(rows)} components: straight {s:.0f} px per vertex, live wire {lw:.0f} "
          f"({lw / s:.2f}x); the live wire did better on {better:.0%}")
    print(json.dumps({"components": len(rows), "straight_px_per_vertex": s, "live_wire_px_per_vertex": lw,
                      "ratio": lw / s, "live_wire_better_share": better}))


if __name__ == "__main__":
    main()
