"""`segstudio eval` on the issue-14 cases: 16-bit predictions scored, stray ground truth reported."""

import json

import numpy as np
from PIL import Image

from segstudio.cli import main
from segstudio.core.imageio import write_label_png
from segstudio.core.labels import preset

CAMVID = preset("camvid")


def _folders(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    g = np.zeros((8, 10), np.uint8)
    g[:, 5:] = 3
    write_label_png(gt / "a.png", g, CAMVID)
    return gt, pred, g


def test_16_bit_predictions_are_scored(tmp_path, capsys):
    gt, pred, g = _folders(tmp_path)
    p = g.astype(np.uint16)
    p[0, :2] = 4000  # beyond every class: scored as errors
    Image.fromarray(p).save(pred / "a.png")
    rc = main(["eval", "--pred", str(pred), "--gt", str(gt), "--labels", "camvid", "--json", str(tmp_path / "r.json")])
    assert rc == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["images"] == 1 and report["invalid_predictions"] == 2
    assert abs(report["pixel_accuracy"] - 78 / 80) < 1e-9


def test_stray_ground_truth_is_reported_per_file(tmp_path, capsys):
    gt, pred, g = _folders(tmp_path)
    write_label_png(pred / "a.png", g, CAMVID)
    bad = g.copy()
    bad[2, 2:5] = 200
    write_label_png(gt / "a.png", bad, CAMVID)
    rc = main(["eval", "--pred", str(pred), "--gt", str(gt), "--labels", "camvid", "--json", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert rc == 0
    assert "a.png: ground truth holds values outside the label set" in err and "200 (3 px)" in err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["stray_ground_truth"] == [{"stem": "a", "values": {"200": 3}}]
