"""No command writes over its own inputs (issue 14 item 1), with or without --overwrite.

Each case first shows the bad output choice, then checks every input file is
byte-for-byte what it was and nothing was written outside the output folder.
"""

import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.core.labels import preset
from segstudio.nets import build_model
from segstudio.nets.checkpoint import make_card, save_checkpoint

from ..core.formats_data import LS3, make_dataset


def _snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def model(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", str(tmp_path / "shipped"))
    torch.manual_seed(0)
    card = make_card("segnet-basic", 0.125, preset("camvid"))
    return save_checkpoint(tmp_path / "home" / "models" / "tiny", build_model("segnet-basic", 11, width=0.125), card)


def _photos(folder, n=2):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (16, 24, 3), np.uint8)).save(folder / f"p{i}.png")
    return folder


def test_predict_out_equal_to_the_image_folder_is_refused(tmp_path, model, capsys):
    photos = _photos(tmp_path / "photos")
    before = _snapshot(photos)
    for extra in ([], ["--overwrite"]):
        assert main(["predict", "--model", "tiny", *extra, "--out", str(photos), str(photos)]) == 2
        err = capsys.readouterr().err
        assert f"--out {photos} is the input folder {photos}" in err
    assert _snapshot(photos) == before


def test_predict_target_resolving_to_an_input_through_a_symlink_is_refused(tmp_path, model, capsys):
    photos = _photos(tmp_path / "photos")
    out = tmp_path / "out"
    out.mkdir()
    (out / "p0.png").symlink_to(photos / "p0.png")
    before = _snapshot(photos)
    assert main(["predict", "--model", "tiny", "--overwrite", "--out", str(out), str(photos / "p0.png")]) == 2
    err = capsys.readouterr().err
    assert f"label PNG {out / 'p0.png'} would replace the input {photos / 'p0.png'}" in err
    assert _snapshot(photos) == before


def test_predict_existing_outputs_need_overwrite(tmp_path, model, capsys):
    photos = _photos(tmp_path / "photos")
    out = tmp_path / "out"
    assert main(["predict", "--model", "tiny", "--quiet", "--out", str(out), str(photos)]) == 0
    (out / "p1.png").write_bytes(b"someone else's file")
    assert main(["predict", "--model", "tiny", "--quiet", "--out", str(out), str(photos)]) == 2
    assert "2 label PNG(s) already exist" in capsys.readouterr().err
    assert (out / "p1.png").read_bytes() == b"someone else's file"
    assert main(["predict", "--model", "tiny", "--quiet", "--overwrite", "--out", str(out), str(photos)]) == 0
    assert Image.open(out / "p1.png").size == (24, 16)


def _labelme(folder, stem):
    doc = {"version": "5.5.0", "flags": {}, "imagePath": f"{stem}.png", "imageData": None,
           "imageHeight": 24, "imageWidth": 32,
           "shapes": [{"label": "car", "points": [[0, 0], [5, 5]], "shape_type": "rectangle"}]}
    (folder / f"{stem}.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("kind", ["labelme", "voc", "coco"])
def test_import_with_overwrite_never_replaces_the_images(tmp_path, kind, capsys):
    images, masks, _ = make_dataset(tmp_path, n=2)  # PNG images img0.png, img1.png
    ls = tmp_path / "ls.json"
    LS3.save(ls)
    if kind == "labelme":
        src = tmp_path / "lm"
        src.mkdir()
        for s in ("img0", "img1"):
            _labelme(src, s)
    elif kind == "voc":
        src = tmp_path / "voc"
        assert main(["export", "voc", "--images", str(images), "--masks", str(masks), "--labels", str(ls),
                     "--out", str(src)]) == 0
    else:
        src = tmp_path / "c.json"
        assert main(["export", "coco", "--images", str(images), "--masks", str(masks), "--labels", str(ls),
                     "--out", str(src)]) == 0
    capsys.readouterr()
    before = _snapshot(tmp_path)
    rc = main(["import", kind, str(src), "--images", str(images), "--labels", str(ls), "--out", str(images),
               "--overwrite"])
    assert rc == 2
    assert f"would replace the input {images / 'img0.png'}" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before


def test_import_cvat_over_its_own_source_masks_is_refused(tmp_path, capsys):
    images, masks, _ = make_dataset(tmp_path, n=2)
    ls = tmp_path / "ls.json"
    LS3.save(ls)
    src = tmp_path / "voc"
    assert main(["export", "voc", "--images", str(images), "--masks", str(masks), "--labels", str(ls),
                 "--out", str(src)]) == 0
    capsys.readouterr()
    before = _snapshot(tmp_path)
    assert main(["import", "cvat", str(src), "--images", str(images), "--labels", str(ls),
                 "--out", str(src / "SegmentationClass"), "--overwrite"]) == 2
    assert "would replace the input" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("where", ["masks", "images", "parent"])
def test_export_voc_overwrite_never_replaces_its_inputs(tmp_path, where, capsys):
    images, masks, _ = make_dataset(tmp_path / "data", n=2)
    ls = tmp_path / "ls.json"
    LS3.save(ls)
    out = {"masks": masks, "images": images, "parent": tmp_path / "data"}[where]
    before = _snapshot(tmp_path)
    assert main(["export", "voc", "--images", str(images), "--masks", str(masks), "--labels", str(ls),
                 "--out", str(out), "--overwrite"]) == 2
    assert "holds the input" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before


def test_export_voc_overwrite_replaces_only_a_previous_export(tmp_path, capsys):
    images, masks, _ = make_dataset(tmp_path, n=2)
    ls = tmp_path / "ls.json"
    LS3.save(ls)
    out = tmp_path / "voc"
    args = ["export", "voc", "--images", str(images), "--masks", str(masks), "--labels", str(ls), "--out", str(out)]
    assert main(args) == 0
    assert main(args + ["--overwrite"]) == 0  # its own earlier output: fine
    (out / "notes.txt").write_text("mine")
    assert main(args + ["--overwrite"]) == 2
    assert "holds files this command did not write (notes.txt)" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"


def test_export_coco_onto_a_mask_is_refused(tmp_path, capsys):
    images, masks, _ = make_dataset(tmp_path, n=2)
    ls = tmp_path / "ls.json"
    LS3.save(ls)
    before = _snapshot(tmp_path)
    assert main(["export", "coco", "--images", str(images), "--masks", str(masks), "--labels", str(ls),
                 "--out", str(masks / "img0.png"), "--overwrite"]) == 2
    assert f"would replace the input {masks / 'img0.png'}" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before
