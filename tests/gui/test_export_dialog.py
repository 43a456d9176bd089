"""The export dialog runs the real exports on a worker thread, and cancels cleanly."""

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from pycocotools.coco import COCO

from segstudio.core.imageio import read_label_png, write_label_png
from segstudio.core.labels import LabelSet
from segstudio.gui import export_dialog as ed
from segstudio.gui.export_dialog import ExportDialog

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

LS = LabelSet(names=("road", "car"), colors=((128, 64, 128), (64, 0, 128)), ignore_index=9, name="two")


@pytest.fixture
def folders(tmp_path):
    from PIL import Image

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(4):
        Image.fromarray(np.full((10, 14, 3), 30 * i, np.uint8)).save(images / f"p{i}.png")
        m = np.zeros((10, 14), np.uint8)
        m[2:5, i:i + 6] = 1
        m[9] = 9
        write_label_png(masks / f"p{i}.png", m, LS)
    return images, masks


def test_voc_export_runs_and_reports(qtbot, folders, tmp_path):
    images, masks = folders
    dlg = ExportDialog(None, images, masks, LS, "voc")
    qtbot.addWidget(dlg)
    assert dlg.out_edit.text() == str(tmp_path / "images-voc")
    dlg.val_spin.setValue(50)
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.state == "done", timeout=15000)
    assert "4 image(s) exported" in dlg.summary_view.toPlainText() and "train 2, val 2" in dlg.summary_view.toPlainText()
    assert dlg.progress_bar.value() == dlg.progress_bar.maximum() == 4
    a = read_label_png(tmp_path / "images-voc" / "SegmentationClass" / "p2.png")
    assert a[3, 4] == 1 and a[9, 0] == 255
    assert dlg.cancel_button.text() == "Close"


def test_coco_polygon_export(qtbot, folders, tmp_path):
    images, masks = folders
    dlg = ExportDialog(None, images, masks, LS, "coco")
    qtbot.addWidget(dlg)
    dlg.seg_combo.setCurrentIndex(1)
    dlg.out_edit.setText(str(tmp_path / "out.json"))
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.state == "done", timeout=15000)
    assert dlg.summary.segmentation == "polygon"
    assert len(COCO(str(tmp_path / "out.json")).imgs) == 4


def test_cancel_mid_export_leaves_no_output(qtbot, folders, tmp_path, monkeypatch):
    images, masks = folders
    gate, reached = threading.Event(), threading.Event()
    real = ed.export_voc

    def held_export(*args, progress, cancelled, **kw):
        def hold(i, n):
            progress(i, n)
            if i == 1:  # one image is already written into the staging folder
                reached.set()
                gate.wait(10)
        return real(*args, progress=hold, cancelled=cancelled, **kw)

    monkeypatch.setattr(ed, "export_voc", held_export)
    dlg = ExportDialog(None, images, masks, LS, "voc")
    qtbot.addWidget(dlg)
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(reached.is_set, timeout=10000)
    assert dlg.cancel_button.text() == "Cancel" and not dlg.start_button.isEnabled()
    staging = [p for p in tmp_path.iterdir() if p.name.startswith(".images-voc.partial")]
    assert staging and any((staging[0] / "SegmentationClass").iterdir())  # really half-way
    qtbot.mouseClick(dlg.cancel_button, Qt.MouseButton.LeftButton)
    gate.set()
    qtbot.waitUntil(lambda: dlg.state == "cancelled", timeout=10000)
    assert "nothing was written" in dlg.summary_view.toPlainText()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "masks"]
    # and it can run again afterwards
    monkeypatch.setattr(ed, "export_voc", real)
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.state == "done", timeout=15000)
    assert (tmp_path / "images-voc" / "labelmap.txt").exists()


def test_failure_is_shown(qtbot, folders, tmp_path):
    images, masks = folders
    write_label_png(masks / "p0.png", np.full((10, 14), 5, np.uint8), LS)  # 5: not a class of LS
    dlg = ExportDialog(None, images, masks, LS, "coco")
    qtbot.addWidget(dlg)
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.state == "failed", timeout=15000)
    assert "p0.png" in dlg.summary_view.toPlainText()
    assert not (tmp_path / "images-coco.json").exists()
