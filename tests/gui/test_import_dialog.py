"""The import dialog: labelme and COCO into the masks folder, unknown classes, accept semantics."""

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from segstudio.core.imageio import read_label_png
from segstudio.core.labels import LabelSet
from segstudio.gui.import_dialog import ImportDialog

LS = LabelSet(names=("road", "car"), colors=((128, 64, 128), (64, 0, 128)), ignore_index=9, name="two")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def project(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(images / "a.png")
    doc = {"version": "5.5.0", "flags": {}, "imagePath": "a.png", "imageData": None, "imageHeight": 10,
           "imageWidth": 12, "shapes": [
               {"label": "road", "points": [[0, 0], [11, 9]], "shape_type": "rectangle"},
               {"label": "truck", "points": [[2, 2], [5, 5]], "shape_type": "rectangle"},
               {"label": "car", "points": [[7, 2], [9, 4]], "shape_type": "rectangle"}]}
    (images / "a.json").write_text(json.dumps(doc))
    return images, masks


def _run(qtbot, dlg, state):
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.state == state, timeout=15000)


def test_unknown_class_then_mapping_then_accept(qtbot, project):
    images, masks = project
    dlg = ImportDialog(None, images, masks, LS, "labelme")
    qtbot.addWidget(dlg)
    dlg.src_edit.setText(str(images))
    _run(qtbot, dlg, "failed")
    text = dlg.summary_view.toPlainText()
    assert "'truck'" in text and "Skip classes" in text
    assert not (masks / "a.png").exists()
    dlg.map_edit.setPlainText("truck=car")
    _run(qtbot, dlg, "done")
    assert "1 mask(s) written" in dlg.summary_view.toPlainText()
    a = read_label_png(masks / "a.png")
    assert a[3, 3] == 1 and a[3, 8] == 1 and a[8, 1] == 0
    qtbot.mouseClick(dlg.cancel_button, Qt.MouseButton.LeftButton)
    assert dlg.result() == QDialog.DialogCode.Accepted


def test_existing_masks_need_replace_and_nothing_written_is_rejected(qtbot, project):
    images, masks = project
    dlg = ImportDialog(None, images, masks, LS, "labelme")
    qtbot.addWidget(dlg)
    dlg.src_edit.setText(str(images / "a.json"))
    dlg.skip_check.setChecked(True)
    _run(qtbot, dlg, "done")
    assert "'truck': 1 skipped" in dlg.summary_view.toPlainText()
    dlg2 = ImportDialog(None, images, masks, LS, "labelme")
    qtbot.addWidget(dlg2)
    dlg2.src_edit.setText(str(images))
    dlg2.skip_check.setChecked(True)
    _run(qtbot, dlg2, "failed")
    assert "already exist" in dlg2.summary_view.toPlainText()
    qtbot.mouseClick(dlg2.cancel_button, Qt.MouseButton.LeftButton)
    assert dlg2.result() == QDialog.DialogCode.Rejected
    dlg2.overwrite_check.setChecked(True)
    _run(qtbot, dlg2, "done")


def test_coco_fill_option(qtbot, project, tmp_path):
    images, masks = project
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 12, "height": 10}],
           "categories": [{"id": 1, "name": "car"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                            "segmentation": [[1, 1, 4, 1, 4, 4, 1, 4]]}]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    dlg = ImportDialog(None, images, masks, LS, "coco")
    qtbot.addWidget(dlg)
    dlg.src_edit.setText(str(tmp_path / "c.json"))
    dlg.fill_combo.setCurrentIndex(1)  # road
    _run(qtbot, dlg, "done")
    a = read_label_png(masks / "a.png")
    assert a[2, 2] == 1 and a[8, 8] == 0


def test_labelme_background_choice(qtbot, project):
    images, masks = project
    doc = json.loads((images / "a.json").read_text())
    doc["shapes"] = [{"label": "car", "points": [[7, 2], [9, 4]], "shape_type": "rectangle"},
                     {"label": "__ignore__", "points": [[0, 8], [1, 9]], "shape_type": "rectangle"}]
    (images / "a.json").write_text(json.dumps(doc))
    dlg = ImportDialog(None, images, masks, LS, "labelme")
    qtbot.addWidget(dlg)
    dlg.src_edit.setText(str(images))
    _run(qtbot, dlg, "done")  # auto: LS has no background class -> unlabelled
    a = read_label_png(masks / "a.png")
    assert a[3, 8] == 1 and a[0, 0] == LS.ignore_index and a[9, 0] == LS.ignore_index
    dlg.overwrite_check.setChecked(True)
    dlg.background_combo.setCurrentIndex(dlg.background_combo.findData("road"))
    _run(qtbot, dlg, "done")
    a = read_label_png(masks / "a.png")
    assert a[3, 8] == 1 and a[0, 0] == 0 and a[9, 0] == LS.ignore_index  # __ignore__ stays void
