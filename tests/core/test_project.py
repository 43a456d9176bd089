"""Folder projects: masks beside the images, remembered label set and states."""

import json

import numpy as np
import pytest
from PIL import Image

from segstudio.core import labels as L
from segstudio.core.errors import ImageSizeMismatch, SegstudioError
from segstudio.core.imageio import read_label_png
from segstudio.core.project import PROJECT_FILE, ImageState, Project, ProjectError


def _images(folder, n=3, size=(16, 12)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", size, (i * 40, 10, 20)).save(folder / f"img{i}.jpg")
    return folder


def test_open_folder_defaults_and_remembers_labelset(tmp_path):
    d = _images(tmp_path / "imgs")
    p = Project.open(d, labels="camvid")
    assert [x.name for x in p.images] == ["img0.jpg", "img1.jpg", "img2.jpg"]
    assert p.masks_dir == (d / "SegmentationClass").resolve()
    assert p.labelset == L.preset("camvid")
    assert all(p.state(x) is ImageState.UNLABELLED for x in p.images)
    assert json.loads((d / PROJECT_FILE).read_text())["label_spec"] == "camvid"
    # reopened without --labels: camvid is remembered
    assert Project.open(d).labelset == L.preset("camvid")


def test_save_and_load_mask_states_and_reopen(tmp_path):
    d = _images(tmp_path / "imgs")
    p = Project.open(d, labels="voc")
    img = p.images[1]
    lab = p.empty_labels((16, 12))
    lab[2:5, 3:9] = 7
    path = p.save_mask(img, lab, ImageState.PREDICTED)
    assert path == d / "SegmentationClass" / "img1.png"
    with Image.open(path) as im:
        assert im.mode == "P"
    assert np.array_equal(read_label_png(path), lab)
    p.set_state(p.images[0], ImageState.EDITED, persist=False)
    assert p.state(p.images[0]) is ImageState.EDITED
    q = Project.open(d)
    assert q.state(img) is ImageState.PREDICTED
    assert q.state(q.images[0]) is ImageState.UNLABELLED
    assert np.array_equal(q.load_mask(img, (16, 12)), lab)
    assert q.unlabelled_images() == [q.images[0], q.images[2]]
    with pytest.raises(ImageSizeMismatch, match="img1"):
        q.load_mask(img, (20, 12))


def test_existing_masks_are_loaded_and_custom_masks_folder(tmp_path):
    d = _images(tmp_path / "imgs", n=2)
    masks = tmp_path / "elsewhere"
    masks.mkdir()
    Image.fromarray(np.full((12, 16), 3, np.uint8), "L").save(masks / "img0.png")
    p = Project.open(d, masks=masks)
    assert p.state(p.images[0]) is ImageState.SAVED
    assert (p.load_mask(p.images[0]) == 3).all()
    # remembered relative to the image folder
    assert Project.open(d).masks_dir == masks.resolve()


def test_open_image_file_and_errors(tmp_path):
    d = _images(tmp_path / "imgs", n=2)
    p = Project.open(d / "img1.jpg")
    assert p.start_image == (d / "img1.jpg").resolve()
    with pytest.raises(ProjectError, match="no such"):
        Project.open(tmp_path / "missing")
    (d / PROJECT_FILE).write_text("{broken")  # recovered, not an error: see test_studio_faults.py
    assert "kept as" in Project.open(d).notice
