"""`segstudio import` end to end: written masks, unknown classes, exit codes."""

import json

import numpy as np
from PIL import Image

from segstudio.cli import main
from segstudio.core.imageio import read_label_png


def _labelme(tmp_path, label="Car"):
    d = tmp_path / "data"
    d.mkdir()
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(d / "a.jpg")
    doc = {"version": "5.5.0", "flags": {}, "imagePath": "a.jpg", "imageData": None, "imageHeight": 10,
           "imageWidth": 12, "shapes": [
               {"label": "Road", "points": [[0, 5], [11, 9]], "shape_type": "rectangle"},
               {"label": label, "points": [[2, 2], [6, 2], [6, 6], [2, 6]], "shape_type": "polygon"}]}
    (d / "a.json").write_text(json.dumps(doc))
    return d


def test_import_labelme_cli(tmp_path, capsys):
    d = _labelme(tmp_path)
    rc = main(["import", "labelme", str(d), "--images", str(d), "--labels", "camvid", "--out", str(tmp_path / "m")])
    assert rc == 0 and "1 mask(s) written" in capsys.readouterr().out
    a = read_label_png(tmp_path / "m" / "a.png")
    assert a[4, 4] == 8 and a[8, 8] == 3 and a[0, 0] == 11


def test_unknown_class_fails_unless_mapped_or_skipped(tmp_path, capsys):
    d = _labelme(tmp_path, label="truck")
    args = ["import", "labelme", str(d), "--images", str(d), "--labels", "camvid", "--out", str(tmp_path / "m")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "'truck' (1 shapes)" in err and not (tmp_path / "m").exists()
    assert main(args + ["--skip-unknown"]) == 0
    assert "unknown class 'truck': 1 skipped" in capsys.readouterr().out
    assert read_label_png(tmp_path / "m" / "a.png")[4, 4] == 11  # the skipped shape left nothing
    assert main(args + ["--map", "truck=Car", "--overwrite"]) == 0
    assert read_label_png(tmp_path / "m" / "a.png")[4, 4] == 8


def test_import_coco_refuses_traversal_and_reports_skips(tmp_path, capsys):
    d = tmp_path / "images"
    d.mkdir()
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(d / "a.png")
    doc = {"images": [{"id": 1, "file_name": "../../x.png", "width": 12, "height": 10}],
           "annotations": [], "categories": [{"id": 1, "name": "Car"}]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    args = ["import", "coco", str(tmp_path / "c.json"), "--images", str(d), "--labels", "camvid", "--out", str(tmp_path / "m")]
    assert main(args) == 2 and "outside the data folder" in capsys.readouterr().err
    doc["images"] = [{"id": 1, "file_name": "a.png", "width": 12, "height": 10},
                     {"id": 2, "file_name": "missing.png", "width": 12, "height": 10}]
    doc["annotations"] = [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                           "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]]}]
    (tmp_path / "c.json").write_text(json.dumps(doc))
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "skipped missing.png" in out and "1 mask(s) written" in out
    assert read_label_png(tmp_path / "m" / "a.png")[2, 2] == 8
