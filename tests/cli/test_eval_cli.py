"""`segstudio eval` end to end on real PNG folders, through the console entry point."""

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from segstudio.cli import main
from segstudio.core.imageio import write_label_png
from segstudio.core.labels import preset


def _write(folder, stem, a, palette=True):
    folder.mkdir(exist_ok=True)
    if palette:
        write_label_png(folder / f"{stem}.png", a, preset("camvid"))
    else:
        Image.fromarray(a, mode="L").save(folder / f"{stem}.png")


def _folders(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    a = np.zeros((4, 6), np.uint8)
    a[:, 3:] = 3
    a[0, 0] = 11  # void
    _write(gt, "one", a)
    _write(pred, "one", np.where(a == 11, 5, a).astype(np.uint8), palette=False)
    b = np.full((4, 6), 8, np.uint8)
    _write(gt, "two", b)
    p = b.copy()
    p[0, :3] = 0
    _write(pred, "two", p)
    return gt, pred


def test_eval_json_report(tmp_path, capsys):
    gt, pred = _folders(tmp_path)
    out = tmp_path / "report.json"
    assert main(["eval", "--pred", str(pred), "--gt", str(gt), "--labels", "camvid", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["images"] == 2
    assert r["pixel_accuracy"] == (23 + 21) / (23 + 24)
    names = [c["name"] for c in r["per_class"]]
    assert names[:4] == ["Sky", "Building", "Pole", "Road"]
    sky = r["per_class"][0]
    assert sky["iou"] == 11 / 14 and sky["accuracy"] == 1.0 and sky["pred_pixels"] == 14
    car = r["per_class"][8]
    assert car["gt_pixels"] == 24 and car["iou"] == 21 / 24 and car["accuracy"] == 21 / 24
    assert r["per_class"][1]["iou"] is None  # Building absent from GT and prediction
    assert len(r["confusion_matrix"]) == 11 and r["confusion_matrix"][8][0] == 3
    assert set(r) >= {"pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou", "per_class",
                      "confusion_matrix", "images"}
    printed = capsys.readouterr().out
    assert "mean IoU" in printed and "Car" in printed


def test_missing_extra_and_mismatched_pairs(tmp_path, capsys):
    gt, pred = _folders(tmp_path)
    _write(gt, "three", np.zeros((4, 6), np.uint8))
    _write(pred, "stray", np.zeros((4, 6), np.uint8))
    _write(gt, "four", np.zeros((4, 6), np.uint8))
    _write(pred, "four", np.zeros((5, 6), np.uint8))
    assert main(["eval", "--pred", str(pred), "--gt", str(gt), "--labels", "camvid"]) == 1
    err = capsys.readouterr().err
    assert "missing prediction: three.png" in err
    assert "extra prediction: stray.png" in err
    assert "four.png: label map is 6x5 but image" in err and "is 6x4" in err
    assert main(["eval", "--pred", str(pred), "--gt", str(gt), "--labels", "camvid", "--allow-missing"]) == 0


def test_console_script_and_bad_label_set(tmp_path):
    gt, pred = _folders(tmp_path)
    exe = [sys.executable, "-m", "segstudio"]
    ok = subprocess.run(exe + ["eval", "--pred", str(pred), "--gt", str(gt), "--labels", "camvid"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(exe + ["eval", "--pred", str(pred), "--gt", str(gt), "--labels", "nope"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "neither a label-set preset" in bad.stderr
