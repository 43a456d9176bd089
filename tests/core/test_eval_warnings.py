"""Scoring never drops values in silence (issue 14 items 4 and the eval bullet).

Stray ground-truth values are counted per file; 16-bit prediction PNGs are
scored, values beyond the classes counted as errors.
"""

import numpy as np
from PIL import Image

from segstudio.core.evaluate import evaluate_folders
from segstudio.core.imageio import write_label_png
from segstudio.core.labels import preset

CAMVID = preset("camvid")  # 11 classes, ignore 11


def _folders(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    return gt, pred


def test_stray_ground_truth_values_are_counted_per_file(tmp_path):
    gt, pred = _folders(tmp_path)
    a = np.zeros((4, 5), np.uint8)
    a[0, :3] = 200  # not a class of an 11-class set
    a[1, 0] = 11  # the ignore index: fine
    a[1, 1] = 255  # VOC void: fine
    b = np.ones((4, 5), np.uint8)
    b[3, 3] = 42
    write_label_png(gt / "a.png", a, CAMVID)
    write_label_png(gt / "b.png", b, CAMVID)
    write_label_png(gt / "c.png", np.zeros((4, 5), np.uint8), CAMVID)
    for s in "abc":
        write_label_png(pred / f"{s}.png", np.zeros((4, 5), np.uint8), CAMVID)
    ev = evaluate_folders(pred, gt, CAMVID)
    assert ev.stray_gt() == [("a", {200: 3}), ("b", {42: 1})]
    lines = ev.stray_lines()
    assert len(lines) == 2 and lines[0].startswith("a.png:") and "200 (3 px)" in lines[0]
    assert ev.report()["stray_ground_truth"] == [{"stem": "a", "values": {"200": 3}},
                                                {"stem": "b", "values": {"42": 1}}]
    assert ev.total.matrix.sum() == 20 - 5 + 20 - 1 + 20  # stray and void pixels not scored


def test_16_bit_predictions_are_scored_and_values_beyond_the_classes_are_errors(tmp_path):
    gt, pred = _folders(tmp_path)
    g = np.zeros((4, 6), np.uint8)
    g[:, 3:] = 2
    write_label_png(gt / "a.png", g, CAMVID)
    p = g.astype(np.uint16)
    p[0, 0] = 300  # beyond any class
    p[0, 4] = 1000
    Image.fromarray(p).save(pred / "a.png")  # mode I;16
    with Image.open(pred / "a.png") as im:
        assert im.mode.startswith("I")
    ev = evaluate_folders(pred, gt, CAMVID)
    assert not ev.failed and len(ev.scored) == 1
    m = ev.total.matrix
    assert m[0, 0] == 11 and m[2, 2] == 11 and m[0, -1] == 1 and m[2, -1] == 1  # last column: invalid
    assert ev.report()["invalid_predictions"] == 2
