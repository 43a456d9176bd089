"""The main window's hooks to the other dialogs: save first, exact constructor arguments, reload after import."""

import sys

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QWidget

from segstudio.core.imageio import write_label_png
from segstudio.core.labels import preset

CAMVID = preset("camvid")


def _paint(qtbot, c):
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=c.to_widget(5, 5).toPoint())
    qtbot.mouseMove(c, c.to_widget(40, 20).toPoint())
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=c.to_widget(40, 20).toPoint())


def test_import_saves_first_then_reloads_masks(make_window, image_folder, qtbot, monkeypatch):
    mod = pytest.importorskip("segstudio.gui.import_dialog")
    win = make_window(image_folder, autosave_ms=60000)
    _paint(qtbot, win.canvas)
    calls = []

    class FakeImport(QDialog):
        def __init__(self, parent, images_dir, masks_dir, labelset, kind):
            super().__init__(parent)
            calls.append((images_dir, masks_dir, labelset, kind, (masks_dir / "im0.png").exists()))
            self.masks_dir = masks_dir

        def exec(self):
            write_label_png(self.masks_dir / "im0.png", np.full((64, 96), 9, np.uint8), CAMVID)
            return QDialog.DialogCode.Accepted

    monkeypatch.setattr(mod, "ImportDialog", FakeImport)
    win.act_import["coco"].trigger()
    images_dir, masks_dir, labelset, kind, saved_before = calls[0]
    assert (images_dir, masks_dir, labelset, kind) == (win.project.images_dir, win.project.masks_dir, CAMVID, "coco")
    assert saved_before  # the edit was saved before the dialog opened
    assert (win.canvas.labels == 9).all()  # reloaded from disk
    assert win.current.stack.count() == 0


def test_export_and_eval_and_train_hooks(make_window, image_folder, qtbot, monkeypatch):
    win = make_window(image_folder)
    got = {}

    class FakeExport(QDialog):
        def __init__(self, parent, images_dir, masks_dir, labelset, fmt):
            super().__init__(parent)
            got["export"] = fmt

        def exec(self):
            return QDialog.DialogCode.Rejected

    class FakeEval(QWidget):
        def __init__(self, parent, images_dir, masks_dir, labelset, gt_dir, model_path, open_image):
            super().__init__()
            got["eval"] = (gt_dir, model_path)
            open_image("im2")

    exp = pytest.importorskip("segstudio.gui.export_dialog")
    ev = pytest.importorskip("segstudio.gui.eval_dialog")
    monkeypatch.setattr(exp, "ExportDialog", FakeExport)
    monkeypatch.setattr(ev, "EvalDialog", FakeEval)
    win.act_export_voc.trigger()
    assert got["export"] == "voc"
    win.set_gt_dir(image_folder)
    win.act_eval.trigger()
    assert got["eval"] == (image_folder, None)
    assert win.current.path.name == "im2.png"  # open_image(stem) switched images
    # a dialog module that cannot be imported is reported, not raised
    monkeypatch.setitem(sys.modules, "segstudio.gui.train_dialog", None)
    win.act_train.trigger()
    assert "not available" in win.last_error
    assert win.canvas.has_image()
