"""Review states: counted from a folder's project file and masks, reported by `segstudio export`."""

from __future__ import annotations

import numpy as np
from PIL import Image

from segstudio.cli import main
from segstudio.core.labels import preset
from segstudio.core.project import ImageState, Project
from segstudio.core.review import state_counts, summary_line


def folder(tmp_path):
    ls = preset("camvid")
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 10, 3), 30 * i, np.uint8)).save(images / f"f{i}.png")
    project = Project.open(images, labels="camvid", masks=masks)
    for i, state in enumerate((ImageState.PREDICTED, ImageState.SAVED, ImageState.REVIEWED)):
        project.save_mask(images / f"f{i}.png", np.full((8, 10), 3, np.uint8), state)
    project.set_state(images / "f2.png", ImageState.REVIEWED)
    return images, masks, ls


def test_reviewed_state_persists_and_is_counted(tmp_path):
    images, masks, _ = folder(tmp_path)
    again = Project.open(images)
    assert again.state(images / "f2.png") is ImageState.REVIEWED
    counts = state_counts(images, masks)
    assert counts == {ImageState.UNLABELLED: 1, ImageState.PREDICTED: 1, ImageState.SAVED: 1,
                      ImageState.REVIEWED: 1}
    assert again.state_counts()[ImageState.REVIEWED] == 1
    assert summary_line(counts) == "review states: 1 unlabelled, 1 predicted, 1 saved, 1 reviewed"


def test_damaged_project_file_counts_masks_as_saved(tmp_path):
    images, masks, _ = folder(tmp_path)
    (images / "segstudio-project.json").write_text("{not json")
    counts = state_counts(images, masks)
    assert counts[ImageState.SAVED] == 3 and counts[ImageState.UNLABELLED] == 1
    assert (images / "segstudio-project.json").read_text() == "{not json"  # counting never repairs


def test_export_reports_counts_per_state(tmp_path, capsys):
    images, masks, _ = folder(tmp_path)
    rc = main(["export", "voc", "--images", str(images), "--masks", str(masks), "--labels", "camvid",
               "--out", str(tmp_path / "voc")])
    assert rc == 0
    assert "review states: 1 unlabelled, 1 predicted, 1 saved, 1 reviewed" in capsys.readouterr().out
