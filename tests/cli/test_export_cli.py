"""`segstudio export voc|coco` end to end on real files."""

import json

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from segstudio.cli import main
from segstudio.core.imageio import read_label_png, write_label_png
from segstudio.core.labels import preset

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _data(tmp_path, n=2):
    ls = preset("camvid")
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(n):
        Image.fromarray(np.full((12, 16, 3), 40 * i, np.uint8)).save(images / f"f{i}.png")
        m = np.full((12, 16), 3, np.uint8)
        m[2:6, 3 + i:9] = 8
        m[0, :] = 11  # void
        write_label_png(masks / f"f{i}.png", m, ls)
    (images / "unannotated.png").write_bytes((images / "f0.png").read_bytes())
    return images, masks


def test_export_voc_cli(tmp_path, capsys):
    images, masks = _data(tmp_path)
    out = tmp_path / "voc"
    rc = main(["export", "voc", "--images", str(images), "--masks", str(masks), "--labels", "camvid",
               "--out", str(out), "--val-fraction", "0.5"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "2 image(s) exported" in text and "train 1, val 1" in text and "unannotated" in text
    a = read_label_png(out / "SegmentationClass" / "f1.png")
    assert a[0, 0] == 255 and a[3, 5] == 8 and a[10, 10] == 3
    # a second run refuses to overwrite without --overwrite
    rc = main(["export", "voc", "--images", str(images), "--masks", str(masks), "--labels", "camvid", "--out", str(out)])
    assert rc == 2 and "already exists" in capsys.readouterr().err


def test_export_coco_cli_both_modes(tmp_path, capsys):
    images, masks = _data(tmp_path)
    for mode in ("rle", "polygon"):
        out = tmp_path / f"{mode}.json"
        rc = main(["export", "coco", "--images", str(images), "--masks", str(masks), "--labels", "camvid",
                   "--out", str(out), "--segmentation", mode])
        text = capsys.readouterr().out
        assert rc == 0 and "checked: loads as pycocotools loads it" in text
        coco = COCO(str(out))
        assert len(coco.imgs) == 2 and {c["name"] for c in coco.cats.values()} == set(preset("camvid").names)
        doc = json.loads(out.read_text())
        assert {a["category_id"] for a in doc["annotations"]} == {4, 9}  # Road, Car (ids from 1)


def test_export_errors_name_the_problem(tmp_path, capsys):
    images, masks = _data(tmp_path)
    write_label_png(masks / "f0.png", np.zeros((3, 3), np.uint8), preset("camvid"))
    rc = main(["export", "coco", "--images", str(images), "--masks", str(masks), "--labels", "camvid",
               "--out", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "f0.png" in err and "3x3" in err and "16x12" in err
    assert not (tmp_path / "x.json").exists()
